import DeadlineRPC
import NIOCore
import NIOEmbedded
import Synchronization

/// Runs `body` with a ``TestNetwork``: in-process servers and clients with no sockets, on one manual clock. When
/// `body` returns, the network's clients are closed and its servers shut down and awaited, so nothing outlives the
/// call; if a handler was still running (or a call open) as `body` returned, it throws ``QuiescenceError`` once
/// everything has stopped.
///
/// ```swift
/// try await withTestNetwork { network in
///     try await network.serve(router, as: "orders")
///     let client = network.client(to: "orders")
///     let reply = try await client.unary(greet, Greeting(text: "Ada"))
/// }
/// ```
///
/// Inside `body`, ``Deadline/now()`` reads the network's clock: a handler, the runtime's timers and the test see
/// one time, which moves only by ``TestNetwork/advance(by:)``.
///
/// - Parameters:
///   - grace: how long (real time) the end-of-scope check waits for handlers that are still finishing; only a
///     handler that ignores cancellation makes it wait that long.
///   - body: the test.
public func withTestNetwork<Result: Sendable>(
    grace: Duration = .seconds(5),
    _ body: (TestNetwork) async throws -> Result
) async throws -> Result {
    let network = TestNetwork()
    // Far from zero, so that no deadline computed backwards from "now" clamps at the start of the clock.
    await network.loop.advanceTime(to: .uptimeNanoseconds(TestNetwork.epoch))
    ManualClock.retain()
    defer { ManualClock.release() }
    return try await ManualClock.$loop.withValue(network.loop) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await network.runServers() }
            let result: Result
            do {
                result = try await body(network)
            } catch {
                _ = await network.shutDown(grace: grace)
                try? await group.waitForAll()
                throw error
            }
            var report = await network.shutDown(grace: grace)
            try await group.waitForAll()
            report.openConnections = network.openConnections()
            if !report.isQuiescent { throw QuiescenceError(report: report) }
            return result
        }
    }
}

/// In-process servers and clients joined without sockets — the same framing, connection handlers and call state
/// machines as TCP — on one event loop whose clock is manual: deadlines, timeouts, keepalives and drains fire only
/// when the test advances it. Made by ``withTestNetwork(grace:_:)``.
public final class TestNetwork: Sendable {
    /// The clock's reading when a network starts (uptime nanoseconds).
    static let epoch: UInt64 = 1_000 * 1_000_000_000

    private struct State {
        var servers: [String: RPCServer] = [:]
        var clients: [RPCClient] = []
        var stopped = false
    }

    /// The loop every connection of the network runs on; its clock is the network's.
    let loop = NIOAsyncTestingEventLoop()
    /// Every handler run on the network's servers.
    public let calls = CallLog()
    private let state = Mutex(State())
    private let serversToRun: AsyncStream<RPCServer>
    private let serversSink: AsyncStream<RPCServer>.Continuation

    init() {
        (self.serversToRun, self.serversSink) = AsyncStream.makeStream(of: RPCServer.self)
    }

    // MARK: Time

    /// Now, on the network's clock.
    public var now: Deadline { Deadline(uptimeNanoseconds: Int64(self.loop.now.uptimeNanoseconds)) }

    /// Moves the clock forward by `duration` and runs every timer that came due on the way, in order (deadlines
    /// expire, cancels go out, handler tasks are cancelled). No real time passes.
    public func advance(by duration: Duration) async {
        await self.loop.advanceTime(by: .nanoseconds(duration.nanoseconds))
    }

    /// Moves the clock forward to `deadline` (never back).
    public func advance(to deadline: Deadline) async {
        await self.loop.advanceTime(to: .uptimeNanoseconds(UInt64(clamping: deadline.uptimeNanoseconds)))
    }

    // MARK: Servers and clients

    /// Serves `router` under `name` (what clients dial: ``client(to:configuration:)``) until the scope ends, and
    /// returns the server once it accepts connections (its ``RPCServer/stats``, ``RPCServer/beginGracefulShutdown()``
    /// work as on TCP). TLS settings are ignored: in-process connections carry plain frames.
    /// - Throws: ``TestNetworkError/duplicateName(_:)``, or `RPCError` `failedPrecondition` after the scope ended.
    @discardableResult
    public func serve(
        _ router: Router,
        as name: String,
        configuration: RPCServer.Configuration = RPCServer.Configuration()
    ) async throws -> RPCServer {
        var configuration = configuration
        // Innermost, so it records the context the handler itself is given.
        configuration.interceptors.append(CallRecorder(server: name, log: self.calls))
        let server = try self.state.withLock { state -> RPCServer in
            guard !state.stopped else {
                throw RPCError(code: .failedPrecondition, message: "The test network has stopped; serve before its scope ends.")
            }
            guard state.servers[name] == nil else { throw TestNetworkError.duplicateName(name) }
            let server = RPCServer(inProcessName: name, router: router, configuration: configuration, eventLoopGroup: self.loop)
            state.servers[name] = server
            // Under the lock with `stopped`: a server registered here is always run (and its promises completed).
            self.serversSink.yield(server)
            return server
        }
        _ = try await server.listeningAddress
        return server
    }

    /// A client of the server served as `name`; it connects on its first call and is closed when the scope ends.
    public func client(to name: String, configuration: RPCClient.Configuration = RPCClient.Configuration()) -> RPCClient {
        self.client(target: .host(name, port: 0), configuration: configuration)
    }

    /// A client of a target whose endpoints' hosts are server names (replicas: `.endpoints([…])`); a `.dns` target is
    /// a programming error (nothing here resolves names).
    public func client(target: Target, configuration: RPCClient.Configuration = RPCClient.Configuration()) -> RPCClient {
        if case .dns = target.kind { preconditionFailure("A test network client dials server names: use .host or .endpoints") }
        let client = RPCClient(
            target: target,
            configuration: configuration,
            eventLoop: self.loop,
            inProcess: InProcessConnector(network: self)
        )
        self.state.withLock { $0.clients.append(client) }
        return client
    }

    func server(named name: String) -> RPCServer? {
        self.state.withLock { $0.servers[name] }
    }

    // MARK: Leaks

    /// What is still running: waits (for events, not polling) until every handler has returned, at most `grace` of
    /// real time, then reports handlers that have not, handler tasks and calls the servers still count, and calls
    /// the clients still have open. Connections are left alone (clients keep theirs open between calls).
    public func quiescence(grace: Duration = .seconds(5)) async -> QuiescenceReport {
        let (servers, clients) = self.state.withLock { state in (state.servers, state.clients) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await self.calls.allEnded()
                for server in servers.values {
                    _ = await server.waitForStats { $0.handlersInFlight == 0 }
                }
            }
            group.addTask {
                // A bound, not an ordering: the wait above ends at its event; only a leak waits this long.
                try? await Task.sleep(for: grace)
            }
            await group.next()
            group.cancelAll()
        }
        var openClientCalls: [String: Int] = [:]
        for client in clients {
            openClientCalls["\(client.target)", default: 0] += await client.openCalls
        }
        return QuiescenceReport(
            runningHandlers: self.calls.running,
            handlerTasks: servers.mapValues { $0.stats.handlersInFlight },
            openServerCalls: servers.mapValues { $0.stats.callsStarted - $0.stats.callsFinished },
            openClientCalls: openClientCalls,
            openConnections: [:]
        )
    }

    /// Throws ``QuiescenceError`` unless everything has ended within `grace` (see ``quiescence(grace:)``).
    public func expectQuiescent(grace: Duration = .seconds(5)) async throws {
        let report = await self.quiescence(grace: grace)
        if !report.isQuiescent { throw QuiescenceError(report: report) }
    }

    // MARK: Scope

    /// Runs every server served, each until it stops (owned by the scope's task group).
    func runServers() async {
        await withDiscardingTaskGroup { group in
            for await server in self.serversToRun {
                group.addTask {
                    do {
                        try await server.run()
                    } catch {
                        // An in-process server binds nothing, so run() has nothing to fail on.
                        assertionFailure("in-process server failed: \(error)")
                    }
                }
            }
        }
    }

    /// Checks for leaks, then closes every client and shuts every server down (their runs return once their
    /// handlers have). Returns the leak check's report.
    func shutDown(grace: Duration) async -> QuiescenceReport {
        let report = await self.quiescence(grace: grace)
        if !report.isQuiescent {
            // Said now: a handler that never returns keeps its server's run() (and this scope) from returning.
            print("DeadlineRPCTesting: waiting for what is still running at the end of the test network's scope:\n\(report)")
        }
        let (servers, clients) = self.state.withLock { state -> ([RPCServer], [RPCClient]) in
            state.stopped = true
            defer { state.clients = [] }
            return (Array(state.servers.values), state.clients)
        }
        for client in clients { await client.close() }
        for server in servers { server.beginGracefulShutdown() }
        self.serversSink.finish()
        return report
    }

    /// Open connections per server (read once the servers have stopped).
    func openConnections() -> [String: Int] {
        let servers = self.state.withLock { state in
            defer { state.servers = [:] }
            return state.servers
        }
        return servers.mapValues { $0.stats.connections }
    }
}
