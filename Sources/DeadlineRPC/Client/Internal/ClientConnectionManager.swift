import Logging
import NIOCore
import NIOPosix
import Wire

/// Owns the client's connection: connects lazily on the first call, queues calls while connecting, reconnects
/// with exponential backoff and jitter, and fails calls that cannot be sent with `unavailable`.
///
/// `@unchecked Sendable` is sound because every mutable property is read and written only on `eventLoop`: each
/// entry point either runs there already (callbacks from the channel handler) or hops with `onLoop` or `submit`,
/// and every entry point that touches that state checks it with `assertInEventLoop` in debug builds.
final class ClientConnectionManager: @unchecked Sendable {

    /// How connections are opened.
    enum Connector: Sendable {
        /// Over TCP, with NIOPosix.
        case tcp
        /// By whoever created the manager (tests, on an embedded channel): a call that finds no connection only
        /// waits, and the handler the creator attaches becomes the connection once the server's settings arrive.
        case external
    }

    /// The loop every call and connection of this client runs on, and whose clock its deadlines use.
    let eventLoop: any EventLoop
    /// How connections are opened (TCP, or a test's embedded channel).
    let connector: Connector
    /// The server's host.
    let host: String
    /// The server's port.
    let port: Int
    /// The client's behaviour and limits.
    let configuration: RPCClient.Configuration
    /// Connect, backoff, ready, closed: decided by the pure machine, carried out here.
    private var lifecycle = StateMachine<ClientConnectionHandler, ClientCall>()
    /// Connections finishing their calls after a `GOAWAY` or a retirement; `close()` waits for them.
    private var draining: [ObjectIdentifier: ClientConnectionHandler] = [:]
    /// Callers of `close()` waiting for every call and connection to end.
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Calls on a stream of one of this manager's connections: counted here when a call is handed to a connection,
    /// and here when its stream ends (``streamEnded(_:)``), so `close()` knows when nothing is left.
    private var inFlightCalls = 0
    /// Calls waiting for a stream because the server's concurrent-stream limit is reached.
    private var waitingForStream: [ClientCall] = []
    /// Every started call's deadline, behind one timer: queued when the call is taken, removed when it ends, here
    /// whichever way it ends.
    private var deadlines: DeadlineTimer<ClientCall>

    /// The owning client's counters (connections opened).
    private let stats: ClientStats

    /// A manager that connects on the first call; `connector` is `.external` only in tests.
    init(
        host: String,
        port: Int,
        configuration: RPCClient.Configuration,
        eventLoop: any EventLoop,
        stats: ClientStats,
        connector: Connector = .tcp
    ) {
        self.connector = connector
        self.stats = stats
        self.host = host
        self.port = port
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.deadlines = DeadlineTimer(eventLoop: eventLoop)
    }

    /// Runs `body` on the event loop (at once when already there).
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if self.eventLoop.inEventLoop { body() } else { self.eventLoop.execute(body) }
    }

    /// The current connection's last keepalive round-trip time (event loop only).
    var roundTripTime: Duration? {
        self.eventLoop.assertInEventLoop()
        return self.lifecycle.readyConnection?.roundTripTime
    }

    // MARK: Calls

    /// What callers ask of the event loop, queued in order and taken in batches (one loop job per batch).
    enum Command: Sendable {
        /// Start a single-response call whose outcome goes to the continuation.
        case start(ClientCall, UnsafeContinuation<SingleResponse, any Error>)
        /// The caller gave up, or the call being served ended.
        case cancel(ClientCall, CancelReason, CancelOrigin)
    }

    private let commands = LoopInbox<Command>()

    /// Hands `command` to the event loop: at once when already there with nothing queued, else queued behind the
    /// others (a thousand callers starting or cancelling together cost the loop one job, not a thousand).
    func submit(_ command: Command) {
        if self.eventLoop.inEventLoop && self.commands.isIdle {
            self.run(command)
        } else if self.commands.push(command) {
            self.eventLoop.execute { self.commands.takeAll { commands in commands.forEach(self.run) } }
        }
    }

    /// Carries out one caller command on the loop.
    private func run(_ command: Command) {
        switch command {
        case .start(let call, let continuation):
            call.loop.single = continuation
            self.start(call)
        case .cancel(let call, let reason, let origin):
            self.cancel(call, reason: reason, origin: origin)
        }
    }

    /// Starts a call on a connection, connecting if needed (on the event loop).
    func start(_ call: ClientCall) {
        self.eventLoop.assertInEventLoop()
        let loop = call.loop
        let action = loop.machine.queued()
        guard loop.machine.state == .queued else {
            self.perform(action, call: call)  // A cancel overtook the start.
            return
        }
        if let deadline = call.deadline {
            // The deadline runs from now, whether the call is sent at once or waits for a connection or a stream.
            if let armAt = self.deadlines.insert(call, deadline: deadline.uptimeNanoseconds) {
                self.armDeadlineTimer(at: armAt)
            }
        }
        // One clock reading for the whole start: the backoff check and the budget written on the wire.
        self.dispatch(call, now: self.eventLoop.now)
    }

    // MARK: Deadlines

    /// (Re-)arms the one deadline timer for the earliest queued deadline.
    private func armDeadlineTimer(at uptimeNanoseconds: Int64) {
        self.deadlines.arm(at: uptimeNanoseconds) { [self] in self.deadlinesDue() }
    }

    /// The deadline timer fired: every call whose deadline came fails with `deadlineExceeded` (sending `CANCEL` when
    /// it reached the server).
    private func deadlinesDue() {
        for call in self.deadlines.fired() {
            if let connection = call.loop.connection {
                connection.deadlineExpired(call)
            } else {
                self.perform(call.loop.machine.deadlineExpired(), call: call)
            }
        }
        if let armAt = self.deadlines.nextArm() { self.armDeadlineTimer(at: armAt) }
    }

    /// Sends `call` on the connection, or queues or fails it; `now` is the loop's clock, read once by the caller.
    private func dispatch(_ call: ClientCall, now: NIODeadline) {
        guard call.loop.machine.state == .queued else { return }
        switch self.lifecycle.callArrived(call, now: now, maxPending: self.configuration.maxPendingCalls) {
        case .use(let handler):
            self.start(call, on: handler, now: now)
        case .connect:
            self.connect()
        case .wait:
            break
        case .refuseTooManyWaiting(let count):
            self.refuse(call, RPCError(code: .unavailable, message: "\(count) calls are already waiting for the connection to \(self.host):\(self.port); the call was not sent."))
        case .refuseBackingOff(let attempt, let error):
            self.refuse(call, RPCError(code: .unavailable, message: "Cannot reach \(self.host):\(self.port) (attempt \(attempt) failed: \(error)); the call was not sent."))
        case .refuseClosed:
            self.refuse(call, RPCError(code: .unavailable, message: "The client is closed; the call was not sent."))
        }
    }

    /// Starts `call` on the ready connection, or retires a connection out of stream ids, or makes the call wait for
    /// a free stream.
    private func start(_ call: ClientCall, on handler: ClientConnectionHandler, now: NIODeadline) {
        if handler.acceptsCalls {
            // Counted before the start: a call whose request is refused once its stream is open ends through
            // streamEnded, like any other.
            self.inFlightCalls += 1
            if let refusal = handler.startCall(call, now: now) {
                self.inFlightCalls -= 1  // No stream was opened.
                self.refuse(call, refusal)
            }
        } else if handler.outOfStreamIDs {
            // Stream ids exhausted: retire it (its calls finish) and open a fresh connection.
            self.draining[ObjectIdentifier(handler)] = handler
            handler.retire()
            self.lifecycle.connectionExhausted(call)
            self.connect()
        } else {
            // The server's stream limit is reached: wait for a call to end, within the call's own deadline.
            guard self.waitingForStream.count < self.configuration.maxPendingCalls else {
                self.refuse(call, RPCError(code: .resourceExhausted, message: "\(self.waitingForStream.count) calls already wait for a free stream on the connection to \(self.host):\(self.port); the call was not sent."))
                return
            }
            self.waitingForStream.append(call)
        }
    }

    /// Ends a call that has no stream (waiting, or refused before its start) with `error`; nothing was sent.
    private func refuse(_ call: ClientCall, _ error: RPCError) {
        guard case .fail = call.loop.machine.notSent(error.status, error.cancelReason) else { return }
        self.deadlines.remove(call)
        call.loop.complete(.failure(error))
    }

    /// Carries out what the machine decided for a call without a stream: a `.fail` ends it, nothing sent.
    private func perform(_ action: CallStateMachine.Client.Action, call: ClientCall) {
        guard case .fail(let status, let reason) = action else { return }
        self.removeWaiting(call)
        self.deadlines.remove(call)
        call.loop.complete(.failure(RPCError(code: status.code, message: status.message, cancelReason: reason)))
    }

    /// The caller cancelled, or the call being served ended (on the event loop).
    func cancel(_ call: ClientCall, reason: CancelReason, origin: CancelOrigin = .caller) {
        self.eventLoop.assertInEventLoop()
        if let connection = call.loop.connection {
            connection.cancel(call, reason: reason, origin: origin)
            return
        }
        // Waiting: ended now, nothing sent. Not yet taken: remembered for start(_:). Over: nothing to do.
        self.perform(call.loop.machine.callerCancelled(reason, origin: origin), call: call)
    }

    /// Removes a call that waits for a connection or a stream; returns whether it was waiting.
    @discardableResult
    private func removeWaiting(_ call: ClientCall) -> Bool {
        if self.lifecycle.removeWaiting(call) { return true }
        if let index = self.waitingForStream.firstIndex(where: { $0 === call }) {
            self.waitingForStream.remove(at: index)
            return true
        }
        return false
    }

    /// A frame for a stream that had already ended was dropped (counted, §13.3).
    func lateFrameDropped() {
        self.stats.recordLateFrameDropped()
    }

    /// A call on one of this manager's connections ended (the connection has settled its stream): its deadline
    /// leaves the queue, and a call waiting for a stream may take the freed one.
    func streamEnded(_ call: ClientCall) {
        self.eventLoop.assertInEventLoop()
        self.deadlines.remove(call)
        self.inFlightCalls -= 1
        if let handler = self.lifecycle.readyConnection, !self.waitingForStream.isEmpty {
            let now = self.eventLoop.now
            while !self.waitingForStream.isEmpty && handler.acceptsCalls {
                self.dispatch(self.waitingForStream.removeFirst(), now: now)
            }
        }
        self.checkClosed()
    }

    // MARK: Connections

    /// Opens a connection over TCP (a test's connector opens its own); ready once the server's settings arrive.
    private func connect() {
        guard case .tcp = self.connector else { return }
        let timeout = self.configuration.connectTimeout
        let bootstrap = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 128 * 1024))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ClientConnectionHandler(configuration: self.configuration, manager: self)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        bootstrap.connect(host: self.host, port: self.port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                // Ready once the server's settings arrive (connectionReady); guard against a silent server.
                self.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
                    if case .connecting = self.lifecycle.state {
                        channel.close(promise: nil)
                    }
                }
            case .failure(let error):
                self.connectFailed("\(error)")
            }
        }
    }

    /// An attempt failed: back off, and fail the calls that waited for it.
    private func connectFailed(_ error: String) {
        let failed = self.lifecycle.connectFailed(now: self.eventLoop.now, error: error, delay: self.configuration.backoff.delay(attempt:))
        guard let delay = failed.delay else { return }  // The client closed meanwhile.
        self.configuration.logger.debug("Connection to \(self.host):\(self.port) failed (\(error)); next attempt allowed in \(delay)")
        for call in failed.waiting {
            self.refuse(call, RPCError(code: .unavailable, message: "Cannot reach \(self.host):\(self.port): \(error)."))
        }
    }

    /// A connection received the server's settings: it takes the waiting calls, or is closed when unwanted.
    func connectionReady(_ handler: ClientConnectionHandler) {
        self.eventLoop.assertInEventLoop()
        guard case .dispatch(let waiting) = self.lifecycle.connectionReady(handler) else {
            handler.close()  // Closed or superseded meanwhile.
            return
        }
        self.stats.recordConnectionOpened()
        let now = self.eventLoop.now
        for call in waiting { self.dispatch(call, now: now) }
    }

    /// A connection received the server's `GOAWAY`: it takes no new calls, and `close()` waits for it to drain.
    func connectionDraining(_ handler: ClientConnectionHandler) {
        self.eventLoop.assertInEventLoop()
        self.lifecycle.connectionDraining(handler)
        // A connection that already closed has nothing left to drain (close() would wait for it forever).
        guard !handler.hasClosed else { return }
        self.draining[ObjectIdentifier(handler)] = handler
    }

    /// A connection's channel closed (`error` says why, when known).
    func connectionClosed(_ handler: ClientConnectionHandler, error: RPCError?) {
        self.eventLoop.assertInEventLoop()
        self.draining.removeValue(forKey: ObjectIdentifier(handler))
        switch self.lifecycle.connectionClosed(handler) {
        case .redispatchWaitingForStream:
            // The next call reconnects at once.
            let waiting = self.waitingForStream
            self.waitingForStream = []
            let now = self.eventLoop.now
            for call in waiting { self.dispatch(call, now: now) }
        case .connectFailed:
            self.connectFailed(error?.message ?? "the connection closed before the server's settings arrived")
        case .none:
            break
        }
        self.checkClosed()
    }

    // MARK: Diagnostics

    /// What the client is doing and waiting for, for diagnosing a stuck `close()` (tests print it).
    func debugSnapshot() async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            self.onLoop {
                let state: String
                switch self.lifecycle.state {
                case .idle: state = "idle"
                case .connecting(let waiting): state = "connecting (\(waiting.count) calls waiting)"
                case .ready(let handler): state = "ready (\(handler.debugSnapshot))"
                case .backoff(let until, let attempt, let error): state = "backoff until \(until) after attempt \(attempt): \(error)"
                case .closed: state = "closed"
                }
                let draining = self.draining.values.map(\.debugSnapshot).joined(separator: "; ")
                continuation.resume(
                    returning: "state \(state); in flight \(self.inFlightCalls); waiting for a stream \(self.waitingForStream.count); draining [\(draining)]; close waiters \(self.closeWaiters.count); deadlines queued \(self.deadlines.count)"
                )
            }
        }
    }

    // MARK: Shutdown

    /// Refuses new calls, closes connections, and returns once every call has ended.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.onLoop {
                switch self.lifecycle.close() {
                case .ready(let handler):
                    handler.close()
                case .connecting(let waiting):
                    for call in waiting {
                        self.refuse(call, RPCError(code: .unavailable, message: "The client was closed before the call was sent."))
                    }
                default:
                    break
                }
                for handler in self.draining.values { handler.close() }
                for call in self.waitingForStream {
                    self.refuse(call, RPCError(code: .unavailable, message: "The client was closed before the call was sent."))
                }
                self.waitingForStream = []
                self.closeWaiters.append(continuation)
                self.checkClosed()
            }
        }
    }

    /// Resumes `close()`'s waiters once the client is closed and nothing is left in flight or draining.
    private func checkClosed() {
        guard self.lifecycle.isClosed, self.inFlightCalls <= 0, self.draining.isEmpty else { return }
        let waiters = self.closeWaiters
        self.closeWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
