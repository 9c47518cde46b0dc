import NIOCore

/// One endpoint's connection lifecycle as a pure value: idle until wanted, connecting, ready, backing off after a
/// failed attempt (exponential, with jitter from the policy passed in), and shut down for good (the client closed,
/// or the endpoint left the resolved set). Time comes in as an argument (the loop's clock); the manager does the
/// I/O the returned answers name, and keeps the calls: they wait for any endpoint, not for this one.
///
/// Generic over the connection so that tests drive it with plain objects, no channel involved.
struct EndpointLifecycle<Connection: AnyObject> {
    /// Where the endpoint's connection is.
    enum State {
        /// No connection; the next want connects.
        case idle
        /// An attempt is under way.
        case connecting
        /// Connected, the server's settings received.
        case ready(Connection)
        /// The last attempt failed; no attempt before `until`.
        case backoff(until: NIODeadline, attempt: Int, error: String)
        /// For good: the client closed or the endpoint was removed.
        case shutdown
    }

    private(set) var state: State = .idle
    /// Attempts failed in a row (reset by a connection that becomes ready).
    private(set) var failedAttempts = 0

    /// An idle machine.
    init() {}

    /// The connection calls can be started on, if one is ready.
    var readyConnection: Connection? {
        if case .ready(let connection) = self.state { return connection }
        return nil
    }

    /// Whether an attempt is under way.
    var isConnecting: Bool {
        if case .connecting = self.state { return true }
        return false
    }

    /// Whether the endpoint is shut down.
    var isShutdown: Bool {
        if case .shutdown = self.state { return true }
        return false
    }

    /// Whether an attempt may start at `now` (idle, or the backoff has passed).
    func canConnect(now: NIODeadline) -> Bool {
        switch self.state {
        case .idle: return true
        case .backoff(let until, _, _): return now >= until
        default: return false
        }
    }

    /// Starts an attempt if one may start at `now`; returns whether the manager must connect.
    mutating func connect(now: NIODeadline) -> Bool {
        guard self.canConnect(now: now) else { return false }
        self.state = .connecting
        return true
    }

    /// The attempt failed at `now`; `delay(attempt)` is the backoff policy (it may add jitter). Returns the delay
    /// before the next attempt, nil when the endpoint is shut down (nothing to retry).
    mutating func connectFailed(now: NIODeadline, error: String, delay: (Int) -> Duration) -> Duration? {
        guard !self.isShutdown else { return nil }
        self.failedAttempts += 1
        let delayed = delay(self.failedAttempts)
        self.state = .backoff(until: now + .nanoseconds(delayed.nanoseconds), attempt: self.failedAttempts, error: error)
        return delayed
    }

    /// A connection received the server's settings; false when nobody wants it (close it).
    mutating func connectionReady(_ connection: Connection) -> Bool {
        guard case .connecting = self.state else { return false }
        self.failedAttempts = 0
        self.state = .ready(connection)
        return true
    }

    /// The ready connection stopped taking calls (the server's `GOAWAY`, or out of stream ids): the endpoint is idle,
    /// and the next want connects afresh.
    mutating func connectionRetired(_ connection: Connection) {
        if case .ready(let current) = self.state, current === connection { self.state = .idle }
    }

    /// What a closed connection means for the endpoint.
    enum OnClosed {
        /// Nothing (an old or unwanted connection).
        case none
        /// The ready connection closed: the endpoint is idle again.
        case lostReady
        /// The connection being opened closed before it was ready: an attempt that failed.
        case connectFailed
    }

    /// A connection's channel closed.
    mutating func connectionClosed(_ connection: Connection) -> OnClosed {
        switch self.state {
        case .ready(let current) where current === connection:
            self.state = .idle
            return .lostReady
        case .connecting:
            return .connectFailed
        default:
            return .none
        }
    }

    /// Shuts the endpoint down: returns the state it was in, for the manager to close what it held.
    mutating func shutdown() -> State {
        let previous = self.state
        self.state = .shutdown
        return previous
    }
}
