import Logging
import NIOCore
import NIOSSL
import NIOPosix
import Wire

/// Owns a client's connections, one per endpoint of its target: resolves the target, connects lazily on the first
/// call, picks an endpoint per call under the load-balancing policy, queues calls while no endpoint is ready
/// (within each call's own deadline), reconnects each endpoint with exponential backoff and jitter, and fails calls
/// that cannot be sent with `unavailable`.
///
/// Split by concern: `+Picking` (which endpoint a call goes to), `+Endpoints` (connecting, readiness, loss),
/// `+Resolution` (the DNS refresh loop and applying a new set of endpoints).
///
/// `@unchecked Sendable` is sound because every mutable property is read and written only on `eventLoop`: each
/// entry point either runs there already (callbacks from the channel handlers and timers) or hops with `onLoop` or
/// `submit`, and every entry point that touches that state checks it with `assertInEventLoop` in debug builds.
///
/// Properties marked `@exclusivity(unchecked)` skip Swift's run-time exclusivity check, which cost about a fifth of
/// an echo call's instructions (a thread-local access-set insert and removal per read or write; see
/// docs/PERFORMANCE.md, issue #19 "Throughput"). Sound because each is read and written only on the event loop, and
/// no access to one spans a call that could reach the same property again: the deadline timer, the picker and
/// the endpoint list are plain values holding no reference back to this manager (closures they take are
/// escaping ones that run in a later loop job).
final class ClientConnectionManager: @unchecked Sendable {

    /// How connections are opened.
    enum Connector: Sendable {
        /// Over TCP, with NIOPosix.
        case tcp
        /// By whoever created the manager (tests, on an embedded channel): a call that finds no connection only
        /// waits, and the handler the creator attaches becomes the connection once the server's settings arrive.
        case external
        /// By an in-process test network (DeadlineRPCTesting), without sockets or TLS.
        case inProcess(any InProcessConnecting)
    }

    /// The loop every call and connection of this client runs on, and whose clock its deadlines use.
    let eventLoop: any EventLoop
    /// How connections are opened (TCP, or a test's embedded channel).
    let connector: Connector
    /// What the client reaches.
    let target: Target
    /// The client's behaviour and limits.
    let configuration: RPCClient.Configuration
    /// The endpoints calls may be picked onto, in the resolver's order.
    @exclusivity(unchecked) var endpoints: [EndpointConnection] = []
    /// Calls waiting for any endpoint to be ready (or for the first resolution), each within its own deadline.
    @exclusivity(unchecked) var pending: [ClientCall] = []
    /// Connections finishing their calls after a `GOAWAY`, a retirement or their endpoint's removal; `close()`
    /// waits for them.
    var draining: [ObjectIdentifier: ClientConnectionHandler] = [:]
    /// Calls on a stream of one of this manager's connections: counted when a call is handed to a connection, and
    /// uncounted when its stream ends (``streamEnded(_:)``), so `close()` knows when nothing is left.
    @exclusivity(unchecked) var inFlightCalls = 0
    /// Callers of `close()` waiting for every call and connection to end.
    private(set) var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set by `close()`: new calls are refused.
    @exclusivity(unchecked) private(set) var isClosed = false
    /// Set by a graceful shutdown (`RPCClient.run()`): new calls are refused, those made before run to their end.
    @exclusivity(unchecked) var isDraining = false
    /// Graceful shutdowns waiting for the calls made before them to end (``checkDrained()``).
    var drainWaiters: [CheckedContinuation<Void, Never>] = []
    /// Every started call's deadline, behind one timer: queued when the call is taken, removed when it ends, here
    /// whichever way it ends.
    @exclusivity(unchecked) private(set) var deadlines: DeadlineTimer<ClientCall>
    /// Which endpoint a call goes to.
    @exclusivity(unchecked) var picker: Picker
    /// The DNS refresh loop's state (unused for a fixed list).
    var resolution = ResolutionState()
    /// The configured keepalive interval is multiplied by this: doubled at each `TOO_MANY_PINGS` (``pingsRefused()``).
    var keepaliveScale: Int64 = 1

    /// The owning client's counters.
    let stats: ClientStats
    /// The client's TLS material, reloadable; nil for plaintext.
    let tls: TLSReloader?
    /// The first load and the reload timer (`+TLS`).
    var tlsState = ClientTLSState()

    /// A manager that connects on the first call; `connector` is `.external` only in tests.
    init(
        target: Target,
        configuration: RPCClient.Configuration,
        eventLoop: any EventLoop,
        stats: ClientStats,
        connector: Connector = .tcp
    ) {
        self.connector = connector
        self.stats = stats
        self.tls = configuration.transportSecurity.usesTLS
            ? TLSReloader(.client(configuration.transportSecurity), recorder: stats, logger: configuration.logger)
            : nil
        self.target = target
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.deadlines = DeadlineTimer(eventLoop: eventLoop)
        self.picker = Picker(policy: configuration.loadBalancing)
        if case .endpoints(let list) = target.kind {
            self.endpoints = list.map(EndpointConnection.init(endpoint:))
        }
    }

    /// A manager for one server at `host:port`.
    convenience init(
        host: String,
        port: Int,
        configuration: RPCClient.Configuration,
        eventLoop: any EventLoop,
        stats: ClientStats,
        connector: Connector = .tcp
    ) {
        self.init(target: .host(host, port: port), configuration: configuration, eventLoop: eventLoop, stats: stats, connector: connector)
    }

    /// Runs `body` on the event loop (at once when already there).
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if self.eventLoop.inEventLoop { body() } else { self.eventLoop.execute(body) }
    }

    /// The first ready connection's last keepalive round-trip time (event loop only).
    var roundTripTime: Duration? {
        self.eventLoop.assertInEventLoop()
        return self.endpoints.lazy.compactMap { $0.lifecycle.readyConnection?.roundTripTime }.first
    }

    /// The target as messages name it: `host:port` for one endpoint, else the target's text.
    var targetName: String { self.target.description }

    // MARK: Calls

    /// What callers ask of the event loop, queued in order and taken in batches (one loop job per batch).
    enum Command: Sendable {
        /// Start a single-response call whose outcome goes to the continuation.
        case start(ClientCall, UnsafeContinuation<Void, any Error>)
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
        if self.isDraining && !self.isClosed {
            self.refuse(call, RPCError(code: .unavailable, message: "The client is shutting down; the call was not sent."))
            return
        }
        if let deadline = call.deadline {
            // The deadline runs from now, whether the call is sent at once or waits for a connection or a stream.
            if let armAt = self.deadlines.insert(call, deadline: deadline.uptimeNanoseconds) {
                self.armDeadlineTimer(at: armAt)
            }
        }
        // One clock reading for the whole start: the backoff checks, the pick and the budget written on the wire.
        self.dispatch(call, now: self.eventLoop.now)
    }

    // MARK: Deadlines

    /// (Re-)arms the one deadline timer for the earliest queued deadline.
    private func armDeadlineTimer(at uptimeNanoseconds: Int64) {
        LatencyTrace.mark(.clientDeadlineArmed, self, value: uptimeNanoseconds)
        self.deadlines.arm(at: uptimeNanoseconds) { [self] in self.deadlinesDue() }
    }

    /// The deadline timer fired: every call whose deadline came fails with `deadlineExceeded` (sending `CANCEL` when
    /// it reached the server).
    private func deadlinesDue() {
        let fired = self.deadlines.fired()
        LatencyTrace.mark(.clientDeadlineFired, self, value: Int64(fired.count))
        // A CANCEL is written as its call fails: a write that fails at once closes the connection, which ends the
        // other calls on it, some of them due in this same batch. Those have ended already: skipped.
        for call in fired where !call.loop.machine.isClosed {
            if let connection = call.loop.connection {
                connection.deadlineExpired(call)
            } else {
                self.perform(call.loop.machine.deadlineExpired(), call: call)
            }
        }
        if let armAt = self.deadlines.nextArm() { self.armDeadlineTimer(at: armAt) }
    }

    /// Sends `call` on a picked endpoint's connection, or makes it wait, or fails it; `now` is the loop's clock,
    /// read once by the caller.
    func dispatch(_ call: ClientCall, now: NIODeadline) {
        guard call.loop.machine.state == .queued else { return }
        if self.isClosed {
            self.refuse(call, RPCError(code: .unavailable, message: "The client is closed; the call was not sent."))
            return
        }
        switch self.pick(call, now: now) {
        case .endpoint(let endpoint, let connection):
            self.start(call, on: endpoint, connection: connection, now: now)
        case .shed(let remaining, let fastest):
            self.stats.recordShedForLatency(method: call.method)
            self.refuse(call, RPCError(
                code: .deadlineExceeded,
                message: "Only \(remaining) of budget is left and every endpoint of \(self.targetName) has recently taken longer (the fastest typically \(fastest)); the call was not sent.",
                cancelReason: .deadlineExceeded
            ))
        case .none:
            self.connectWanted(now: now)
            if let refusal = self.noEndpointRefusal(now: now) {
                self.refuse(call, refusal)
            } else if self.pending.count >= self.configuration.maxPendingCalls {
                self.refuse(call, RPCError(code: .unavailable, message: "\(self.pending.count) calls are already waiting for a connection to \(self.targetName); the call was not sent."))
            } else {
                self.pending.append(call)
            }
        }
    }

    /// The calls waiting for an endpoint go through the picker again (an endpoint became ready or serving, or the
    /// set of endpoints changed); those that still find none wait again or fail.
    func dispatchPending() {
        guard !self.pending.isEmpty else { return }
        let now = self.eventLoop.now
        let waiting = self.pending
        self.pending = []
        for call in waiting { self.dispatch(call, now: now) }
    }

    /// Starts `call` on `endpoint`'s ready connection, or retires a connection out of stream ids, or makes the call
    /// wait for a free stream there.
    private func start(_ call: ClientCall, on endpoint: EndpointConnection, connection handler: ClientConnectionHandler, now: NIODeadline) {
        if handler.acceptsCalls {
            // Counted before the start: a call whose request is refused once its stream is open ends through
            // streamEnded, like any other.
            self.inFlightCalls += 1
            endpoint.inFlight += 1
            call.loop.endpoint = endpoint
            call.loop.sentAt = now
            call.history?.record(endpoint.endpoint)
            if let refusal = handler.startCall(call, now: now) {
                self.inFlightCalls -= 1  // No stream was opened.
                endpoint.inFlight -= 1
                call.loop.endpoint = nil
                self.refuse(call, refusal)
            }
        } else if handler.outOfStreamIDs {
            // Stream ids exhausted: retire it (its calls finish) and open a fresh connection; the call waits.
            self.draining[ObjectIdentifier(handler)] = handler
            self.stopHealthWatch(on: endpoint)
            handler.retire()
            endpoint.lifecycle.connectionRetired(handler)
            self.pending.append(call)
            self.connect(endpoint, now: now)
        } else {
            // The server's stream limit is reached: wait for a call to end, within the call's own deadline.
            guard endpoint.waitingForStream.count < self.configuration.maxPendingCalls else {
                self.refuse(call, RPCError(code: .resourceExhausted, message: "\(endpoint.waitingForStream.count) calls already wait for a free stream on the connection to \(endpoint.endpoint); the call was not sent."))
                return
            }
            endpoint.waitingForStream.append(call)
        }
    }

    /// Ends a call that has no stream (waiting, or refused before its start) with `error`; nothing was sent.
    func refuse(_ call: ClientCall, _ error: RPCError) {
        guard case .fail = call.loop.machine.notSent(error.status, error.cancelReason) else { return }
        self.deadlines.remove(call)
        call.loop.complete(.failure(error))
        if !self.drainWaiters.isEmpty { self.checkDrained() }
    }

    /// Carries out what the machine decided for a call without a stream: a `.fail` ends it, nothing sent.
    private func perform(_ action: CallStateMachine.Client.Action, call: ClientCall) {
        guard case .fail(let status, let reason) = action else { return }
        self.removeWaiting(call)
        self.deadlines.remove(call)
        call.loop.complete(.failure(RPCError(code: status.code, message: status.message, cancelReason: reason)))
        if !self.drainWaiters.isEmpty { self.checkDrained() }
    }

    /// The caller cancelled, or the call being served ended (on the event loop).
    func cancel(_ call: ClientCall, reason: CancelReason, origin: CancelOrigin = .caller) {
        self.eventLoop.assertInEventLoop()
        LatencyTrace.mark(.clientCancelOnLoop, self)
        if let connection = call.loop.connection {
            connection.cancel(call, reason: reason, origin: origin)
            return
        }
        // Waiting: ended now, nothing sent. Not yet taken: remembered for start(_:). Over: nothing to do.
        self.perform(call.loop.machine.callerCancelled(reason, origin: origin), call: call)
    }

    /// Removes a call that waits for an endpoint or a stream; returns whether it was waiting.
    @discardableResult
    private func removeWaiting(_ call: ClientCall) -> Bool {
        if let index = self.pending.firstIndex(where: { $0 === call }) {
            self.pending.remove(at: index)
            return true
        }
        for endpoint in self.endpoints {
            if let index = endpoint.waitingForStream.firstIndex(where: { $0 === call }) {
                endpoint.waitingForStream.remove(at: index)
                return true
            }
        }
        return false
    }

    /// A frame for a stream that had already ended was dropped (counted, §13.3).
    func lateFrameDropped() {
        self.stats.recordLateFrameDropped()
    }

    /// A call on one of this manager's connections ended (the connection has settled its stream): its deadline
    /// leaves the queue, its endpoint learns how it went, and a call waiting for a stream may take the freed one.
    func streamEnded(_ call: ClientCall) {
        self.eventLoop.assertInEventLoop()
        self.deadlines.remove(call)
        self.inFlightCalls -= 1
        let loop = call.loop
        if let endpoint = loop.endpoint {
            loop.endpoint = nil
            endpoint.inFlight -= 1
            let now = self.eventLoop.now
            self.recordOutcome(of: call, on: endpoint, now: now)
            if let handler = endpoint.lifecycle.readyConnection, !endpoint.waitingForStream.isEmpty {
                while !endpoint.waitingForStream.isEmpty && handler.acceptsCalls {
                    self.dispatch(endpoint.waitingForStream.removeFirst(), now: now)
                }
            }
        }
        self.checkClosed()
    }

    /// A server's `GOAWAY` said it never processed `call`, and the call is back in the queue: it goes again through
    /// the picker (its deadline still runs), away from the endpoint that refused it when it can, and is counted as a
    /// transparent retry.
    func requeueUnprocessed(_ call: ClientCall) {
        self.eventLoop.assertInEventLoop()
        self.inFlightCalls -= 1
        if let endpoint = call.loop.endpoint {
            call.loop.endpoint = nil
            endpoint.inFlight -= 1
            call.loop.refusedBy = endpoint
        }
        self.stats.recordTransparentRetry()
        self.dispatch(call, now: self.eventLoop.now)
    }

    /// Feeds a finished call to its endpoint's latency estimate and failure count.
    private func recordOutcome(of call: ClientCall, on endpoint: EndpointConnection, now: NIODeadline) {
        // Calls the client's own close() ended say nothing about the endpoint.
        guard !self.isClosed else { return }
        switch call.loop.outcome {
        case .success?:
            // Latency only matters where there is a choice: a single endpoint's calls skip the estimate.
            if self.endpoints.count > 1 {
                let decay = self.configuration.budgetAwarePicking?.decayTime ?? .seconds(2)
                let latency = Duration.nanoseconds(Int64(now.uptimeNanoseconds) - Int64(call.loop.sentAt.uptimeNanoseconds))
                endpoint.latency.record(latency, now: now, decay: decay)
            }
            _ = endpoint.recordOutcome(unavailable: false, now: now, policy: self.configuration.outlierEjection)
        case .failure(let error)? where error.code == .unavailable:
            self.recordFailure(on: endpoint, now: now, why: error.message)
        default:
            break  // A cancel or an application error says nothing about the endpoint's health.
        }
    }

    /// One more consecutive failure (an `unavailable` outcome, or a failed attempt) for `endpoint`.
    func recordFailure(on endpoint: EndpointConnection, now: NIODeadline, why: String) {
        guard let time = endpoint.recordOutcome(unavailable: true, now: now, policy: self.configuration.outlierEjection) else { return }
        self.stats.recordEndpointEjected()
        self.configuration.logger.warning(
            "Endpoint ejected after consecutive failures",
            metadata: ["drpc.endpoint": "\(endpoint.endpoint)", "drpc.ejected_for": "\(time)", "drpc.last_error": "\(why)"]
        )
    }

    // MARK: Shutdown

    /// Refuses new calls, closes connections, and returns once every call has ended.
    func close() async {
        let resolving: Task<Void, Never>? = await withCheckedContinuation { (continuation: CheckedContinuation<Task<Void, Never>?, Never>) in
            self.onLoop { continuation.resume(returning: self.closeNow()) }
        }
        // The resolution under way is the client's own task: cancelled above, awaited here.
        await resolving?.value
        // So are a TLS load or reload under way (file reads on the thread pool: short, so awaited, not cancelled).
        await self.awaitTLSWork()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.onLoop {
                self.closeWaiters.append(continuation)
                self.checkClosed()
            }
        }
    }

    /// Refuses new calls and closes every connection (on the loop); returns the resolution under way, cancelled.
    func closeNow() -> Task<Void, Never>? {
        self.isClosed = true
        self.stopTLSReloads()
        let resolving = self.stopResolution()
        for endpoint in self.endpoints { self.shutDown(endpoint) }
        for handler in self.draining.values { handler.close() }
        let waiting = self.pending
        self.pending = []
        for call in waiting {
            self.refuse(call, RPCError(code: .unavailable, message: "The client was closed before the call was sent."))
        }
        return resolving
    }

    /// Resumes `close()`'s waiters once the client is closed and nothing is left in flight or draining.
    func checkClosed() {
        if !self.drainWaiters.isEmpty { self.checkDrained() }
        guard self.isClosed, self.inFlightCalls <= 0, self.draining.isEmpty else { return }
        let waiters = self.closeWaiters
        self.closeWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
