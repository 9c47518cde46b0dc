import NIOCore

extension ClientConnectionManager {
    /// The client's connection lifecycle as a pure value: lazy connect on the first call, calls queued while
    /// connecting, exponential backoff after a failure (calls fail fast until it passes), ready, and closed for
    /// good. Time comes in as an argument (the loop's clock); the manager does the I/O the returned actions name.
    ///
    /// Generic over the connection and the call so that tests drive it with plain objects, no channel involved.
    struct StateMachine<Connection: AnyObject, Call: AnyObject> {
        /// Where the connection is.
        enum State {
            /// No connection; the next call connects.
            case idle
            /// Connecting; these calls wait for it.
            case connecting(waiting: [Call])
            /// Connected, the server's settings received.
            case ready(Connection)
            /// The last attempt failed; calls fail fast until `until`.
            case backoff(until: NIODeadline, attempt: Int, error: String)
            /// The client was closed.
            case closed
        }

        /// What to do with a call that needs a connection.
        enum OnCall {
            /// Use this connection (the manager checks its streams).
            case use(Connection)
            /// Open a connection; the call waits for it.
            case connect
            /// The call waits for the connection being opened.
            case wait
            /// So many calls wait already: refuse it, naming how many.
            case refuseTooManyWaiting(Int)
            /// A recent attempt failed: refuse it, naming the attempt and its error.
            case refuseBackingOff(attempt: Int, error: String)
            /// The client is closed: refuse it.
            case refuseClosed
        }

        /// What to do once an attempt failed.
        struct OnConnectFailed {
            /// The calls that waited for it: fail them.
            var waiting: [Call]
            /// When the next attempt is allowed, for the log (nil when the client closed meanwhile).
            var delay: Duration?
        }

        /// What to do when a connection became ready.
        enum OnReady {
            /// Start these calls on it.
            case dispatch([Call])
            /// Nobody wants it any more (the client closed, or another connection superseded it): close it.
            case close
        }

        private(set) var state: State = .idle
        private var failedAttempts = 0

        /// A machine with no connection.
        init() {}

        /// The connection calls are started on, if one is ready.
        var readyConnection: Connection? {
            if case .ready(let connection) = self.state { return connection }
            return nil
        }

        /// Whether the client was closed.
        var isClosed: Bool {
            if case .closed = self.state { return true }
            return false
        }

        /// A call needs a connection at `now`; `maxPending` bounds the calls waiting for one.
        mutating func callArrived(_ call: Call, now: NIODeadline, maxPending: Int) -> OnCall {
            switch self.state {
            case .ready(let connection):
                return .use(connection)
            case .idle:
                self.state = .connecting(waiting: [call])
                return .connect
            case .connecting(var waiting):
                guard waiting.count < maxPending else { return .refuseTooManyWaiting(waiting.count) }
                waiting.append(call)
                self.state = .connecting(waiting: waiting)
                return .wait
            case .backoff(let until, let attempt, let error):
                guard now >= until else { return .refuseBackingOff(attempt: attempt, error: error) }
                self.state = .connecting(waiting: [call])
                return .connect
            case .closed:
                return .refuseClosed
            }
        }

        /// The ready connection ran out of stream ids: it is retired (the manager drains it) and `call` waits for a
        /// fresh one, which the manager opens.
        mutating func connectionExhausted(_ call: Call) {
            self.state = .connecting(waiting: [call])
        }

        /// Takes `call` out of the calls waiting for the connection; returns whether it was waiting.
        mutating func removeWaiting(_ call: Call) -> Bool {
            guard case .connecting(var waiting) = self.state, let index = waiting.firstIndex(where: { $0 === call }) else {
                return false
            }
            waiting.remove(at: index)
            self.state = .connecting(waiting: waiting)
            return true
        }

        /// An attempt failed at `now`; `delay(attempt)` is the backoff policy (it may add jitter).
        mutating func connectFailed(now: NIODeadline, error: String, delay: (Int) -> Duration) -> OnConnectFailed {
            self.failedAttempts += 1
            let delayed = delay(self.failedAttempts)
            let waiting: [Call]
            if case .connecting(let calls) = self.state { waiting = calls } else { waiting = [] }
            if case .closed = self.state { return OnConnectFailed(waiting: [], delay: nil) }
            self.state = .backoff(until: now + .nanoseconds(delayed.nanoseconds), attempt: self.failedAttempts, error: error)
            return OnConnectFailed(waiting: waiting, delay: delayed)
        }

        /// A connection received the server's settings.
        mutating func connectionReady(_ connection: Connection) -> OnReady {
            self.failedAttempts = 0
            guard case .connecting(let waiting) = self.state else { return .close }
            self.state = .ready(connection)
            return .dispatch(waiting)
        }

        /// A connection stopped taking calls (the server's `GOAWAY`): the next call connects afresh.
        mutating func connectionDraining(_ connection: Connection) {
            if case .ready(let current) = self.state, current === connection { self.state = .idle }
        }

        /// What a closed connection means for the lifecycle.
        enum OnClosed {
            /// Nothing.
            case none
            /// The ready connection closed: calls waiting for one of its streams go again (the next connects).
            case redispatchWaitingForStream
            /// The connection being opened closed before it was ready: an attempt that failed.
            case connectFailed
        }

        /// A connection's channel closed.
        mutating func connectionClosed(_ connection: Connection) -> OnClosed {
            switch self.state {
            case .ready(let current) where current === connection:
                self.state = .idle
                return .redispatchWaitingForStream
            case .connecting:
                return .connectFailed
            default:
                return .none
            }
        }

        /// The client closes: returns the state it was in, for the manager to close or fail what it held.
        mutating func close() -> State {
            let previous = self.state
            self.state = .closed
            return previous
        }
    }
}
