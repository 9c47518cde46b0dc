import DeadlineRPC
import DeadlineRPCTesting
import Synchronization
import Testing

/// A chain or tree of servers in one process, each handler calling the next hop through its own client.
final class Topology: Sendable {
    let probes: [HandlerProbe]
    let servers: [RPCServer]
    let clients: [RPCClient]

    init(probes: [HandlerProbe], servers: [RPCServer], clients: [RPCClient]) {
        self.probes = probes
        self.servers = servers
        self.clients = clients
    }
}

@Suite("Cancellation and deadlines across hops", .timeLimit(.minutes(5)))
struct CascadeTests {
    static let hop = Method<Echo, Echo>.unary("test.Chain/Hop")

    /// Runs `depth` servers; server i's handler calls server i+1 (the last one waits for cancellation).
    static func withChain(
        depth: Int,
        propagation: RPCClient.Propagation = .enabled,
        _ body: @Sendable (RPCClient, [HandlerProbe], [RPCServer]) async throws -> Void
    ) async throws {
        let probes = (0..<depth).map { _ in HandlerProbe() }
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.drainTimeout = .milliseconds(500)  // The leak test's hops never finish alone.
        try await withServerChain(depth: depth, serverConfiguration: serverConfiguration) { index, nextPort, clients in
            let probe = probes[index]
            var router = Router()
            if let port = nextPort {
                var configuration = RPCClient.Configuration()
                configuration.propagation = propagation
                // guide:begin inherited-deadline
                let downstream = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
                clients.append(downstream)
                router.unary(Self.hop) { request, context in
                    probe.started.fire()
                    defer { probe.finished.fire() }
                    do {
                        return try await withTaskCancellationHandler {
                            try await downstream.unary(Self.hop, request)
                        } onCancel: {
                            probe.recordCancel(context.cancelReason)
                        }
                    } catch {
                        if Task.isCancelled {
                            probe.recordCancel(context.cancelReason)
                        } else if let error = error as? RPCError, error.code == .deadlineExceeded {
                            // The inherited deadline ended the outbound call at the same instant the server's
                            // timer would cancel this handler: either way this hop stopped at the deadline.
                            probe.recordCancel(.deadlineExceeded)
                        }
                        throw error
                    }
                }
                // guide:end inherited-deadline
            } else {
                router.unary(Self.hop) { _, context in try await probe.waitForCancellation(context) }
            }
            return router
        } body: { top, servers in
            try await body(top, probes, servers)
        }
    }

    @Test("Cancelling the top caller cancels every hop's handler task, with cause 'cancelled'")
    func cancelCascadesThroughFourHops() async throws {
        try await Self.withChain(depth: 4) { top, probes, servers in
            // guide:begin cancel-the-top
            let call = Task { try await top.unary(Self.hop, Echo(text: "go"), options: CallOptions(timeout: .seconds(30))) }
            await probes[3].started.wait()  // The request reached the last hop.
            call.cancel()
            // guide:end cancel-the-top
            let result = await call.result
            guard case .failure(let error as RPCError) = result else {
                Issue.record("expected RPCError, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
            for (hop, probe) in probes.enumerated() {
                await probe.cancelled.wait()
                await probe.finished.wait()
                #expect(probe.observedReason == .cancelled, "hop \(hop)")
            }
            for server in servers {
                await server.stats(until: { $0.handlersInFlight == 0 })
            }
        }
    }

    @Test("A budget that runs out mid-chain ends every hop with deadlineExceeded; nothing runs on")
    func deadlineCascadesThroughFourHops() async throws {
        try await Self.withChain(depth: 4) { top, probes, servers in
            let error = await #expect(throws: RPCError.self) {
                // 4 s: the budget must outlast the trip to the last hop (four fresh connections, handlers on a
                // shared pool) even on a loaded run; what is checked is that every hop then ends on it.
                try await top.unary(Self.hop, Echo(text: "go"), options: CallOptions(timeout: .seconds(4)))
            }
            #expect(error?.code == .deadlineExceeded)
            for (hop, probe) in probes.enumerated() {
                await probe.cancelled.wait()
                await probe.finished.wait()
                #expect(probe.observedReason == .deadlineExceeded, "hop \(hop)")
                #expect(probe.observedDeadline != nil || hop < 3, "the last hop saw a deadline")
            }
            for server in servers {
                await server.stats(until: { $0.handlersInFlight == 0 })
            }
        }
    }

    /// What one hop's outbound call ended with, recorded by the handler that made it.
    final class OutboundOutcomes: Sendable {
        private let storage = Mutex<[Int: RPCError]>([:])
        func record(hop: Int, _ error: RPCError) { self.storage.withLock { $0[hop] = error } }
        subscript(hop: Int) -> RPCError? { self.storage.withLock { $0[hop] } }
    }

    /// Serves four hops on a test network (DeadlineRPCTesting, in process, manual clock); hop i calls hop i+1, and
    /// hop `narrowing` gives its outbound call `narrowedTo` — far less than the top's budget, so the budget runs
    /// out below that hop, not at the top. A hop whose outbound call failed records the error, and below the
    /// narrowing hop it then awaits its own task's cancellation (the server cancels a handler when its deadline
    /// passes, the same instant the outbound call expired). Returns the client of the first hop.
    static func serveNarrowingChain(
        narrowing: Int,
        narrowedTo: Duration,
        probes: [HandlerProbe],
        outcomes: OutboundOutcomes,
        on network: TestNetwork
    ) async throws -> RPCClient {
        let names = probes.indices.map { "hop\($0 + 1)" }
        for (index, probe) in probes.enumerated() {
            var router = Router()
            if index + 1 < probes.count {
                let downstream = network.client(to: names[index + 1])
                let options = index == narrowing ? CallOptions(timeout: narrowedTo) : CallOptions()
                let below = index > narrowing
                router.unary(Self.hop) { request, context in
                    probe.started.fire()
                    defer { probe.finished.fire() }
                    do {
                        return try await withTaskCancellationHandler {
                            try await downstream.unary(Self.hop, request, options: options)
                        } onCancel: {
                            probe.recordCancel(context.cancelReason)
                        }
                    } catch let error as RPCError {
                        outcomes.record(hop: index, error)
                        if below {
                            // Await the cancellation rather than infer it: the test asserts this hop's task
                            // was cancelled, and with which cause.
                            _ = await withTaskCancellationHandler {
                                await probe.cancelled.wait()
                            } onCancel: {
                                probe.recordCancel(context.cancelReason)
                            }
                        }
                        throw error
                    }
                }
            } else {
                router.unary(Self.hop) { _, context in try await probe.waitForCancellation(context) }
            }
            try await network.serve(router, as: names[index])
        }
        return network.client(to: names[0])
    }

    // In process on DeadlineRPCTesting's manual clock. Over TCP this needed a 3 s budget (the trip to hop 4 on a
    // loaded machine) and could only check "ended well before 15 s"; here the budget runs out at exactly 3 s and
    // nothing happens a millisecond before. The TCP cascade is covered by the two tests above.
    @Test("Hop 2 narrows a 30 s budget to 3 s: it runs out below hop 2 at exactly 3 s, hops 3 and 4 are cancelled with deadlineExceeded, and nothing runs on")
    func budgetNarrowedMidChainExpiresBelowIt() async throws {
        let probes = (0..<4).map { _ in HandlerProbe() }
        let outcomes = OutboundOutcomes()
        try await withTestNetwork { network in
            let top = try await Self.serveNarrowingChain(
                narrowing: 1,
                narrowedTo: .seconds(3),
                probes: probes,
                outcomes: outcomes,
                on: network
            )
            let start = Deadline.now()
            async let error = DeadlineAndCancelTests.failure {
                try await top.unary(Self.hop, Echo(text: "go"), options: CallOptions(timeout: .seconds(30)))
            }
            await probes[3].started.wait()
            // The leaf's deadline is the narrowed one, to the nanosecond (no transit time in process).
            #expect(probes[3].observedDeadline == start + .seconds(3))
            await network.advance(by: .milliseconds(2999))
            #expect(probes.allSatisfy { !$0.cancelled.isFired }, "nothing cancelled a millisecond early")
            await network.advance(by: .milliseconds(1))
            // The exact status travels back up unchanged, and it came from the narrowed budget, not the top's.
            #expect(await error?.code == .deadlineExceeded)
            #expect(network.now - start == .seconds(3))
            // Every outbound call ended with the exact status and its typed cause (hop 1's from the
            // DEADLINE_EXCEEDED that came back up, the others' from their own clocks or the reply).
            for hop in 0..<3 {
                #expect(outcomes[hop]?.code == .deadlineExceeded, "hop \(hop + 1)'s outbound call")
                #expect(outcomes[hop]?.cancelReason == .deadlineExceeded, "hop \(hop + 1)'s outbound call")
            }
            // Every hop below the narrowing one: its handler task was cancelled, with cause deadlineExceeded, and
            // it stopped (the leaf's stop event is its handler returning).
            for hop in 2..<4 {
                await probes[hop].cancelled.wait()
                await probes[hop].finished.wait()
                #expect(probes[hop].observedReason == .deadlineExceeded, "hop \(hop + 1)")
            }
            // Above it, nobody was cancelled: the budget ran out halfway down, and the status came back as a reply.
            for hop in 0..<2 {
                await probes[hop].finished.wait()
                #expect(!probes[hop].cancelled.isFired, "hop \(hop + 1) was not cancelled")
                let handled = try #require(await network.calls.ended(Self.hop.name, on: "hop\(hop + 1)"))
                #expect(handled.end?.cancelReason == nil, "hop \(hop + 1)'s call was not cancelled")
                #expect(handled.end?.errorCode == .deadlineExceeded, "hop \(hop + 1) passed the status up")
            }
            try await network.expectQuiescent()
        }
    }

    // In process on the manual clock: over TCP each hop adds transit time, so this could only check a window
    // (−200 ms … +1 s); here every hop's deadline is the top's, exactly.
    @Test("Each hop inherits the remaining deadline: every hop's deadline is exactly the top's")
    func deadlineInheritedByEveryHop() async throws {
        let probes = (0..<3).map { _ in HandlerProbe() }
        try await withTestNetwork { network in
            let top = try await Self.serveNarrowingChain(
                narrowing: -1,  // No hop narrows.
                narrowedTo: .zero,
                probes: probes,
                outcomes: OutboundOutcomes(),
                on: network
            )
            let sent = Deadline.now() + .milliseconds(2000)
            async let error = DeadlineAndCancelTests.failure {
                try await top.unary(Self.hop, Echo(text: ""), options: CallOptions(deadline: sent))
            }
            await probes[2].started.wait()
            #expect(probes[2].observedDeadline == sent)
            for hop in 0..<3 {
                let handled = try #require(await network.calls.started(Self.hop.name, on: "hop\(hop + 1)"))
                #expect(handled.deadline == sent, "hop \(hop + 1)")
                #expect(handled.hopCount == hop, "hop \(hop + 1)")
            }
            await network.advance(to: sent)
            #expect(await error?.code == .deadlineExceeded)
            await probes[2].finished.wait()
            try await network.expectQuiescent()
        }
    }

    @Test("Propagation off (the Go bug, on purpose): the last hop never learns the caller gave up")
    func propagationOffReproducesTheLeak() async throws {
        try await Self.withChain(depth: 2, propagation: .disabledToReproduceLeaks) { top, probes, servers in
            let call = Task { try await top.unary(Self.hop, Echo(text: "go")) }
            await probes[1].started.wait()
            call.cancel()
            _ = await call.result
            await probes[0].cancelled.wait()  // Hop 0's own task was cancelled…
            #expect(!probes[1].cancelled.isFired, "…but hop 1 got no cancel")
            #expect(servers[1].stats.handlersInFlight == 1)
            // Shutting the leaky hop down (drain timeout) is the only way to stop it.
        }
    }

    // A 5 s budget: the caller cancels once all six leaves have started, so the budget only bounds a run that goes
    // wrong; 500 ms could run out on a loaded machine before the leaves were reached.
    @Test("A 5 s budget fanned out to three services, each calling two more: all nine handlers stop")
    func nineHandlersStopWhenTheTopCallerGivesUp() async throws {
        let leaves = (0..<6).map { _ in HandlerProbe() }
        let middles = (0..<3).map { _ in HandlerProbe() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var servers: [RPCServer] = []
            var leafPorts: [Int] = []
            for probe in leaves {
                var router = Router()
                router.unary(Self.hop) { _, context in try await probe.waitForCancellation(context) }
                let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
                servers.append(server)
                group.addTask { try await server.run() }
                leafPorts.append(try await server.listeningAddress.port!)
            }
            var clients: [RPCClient] = []
            var middlePorts: [Int] = []
            for (index, probe) in middles.enumerated() {
                let downstream = [leafPorts[2 * index], leafPorts[2 * index + 1]].map { RPCClient(host: "127.0.0.1", port: $0) }
                clients += downstream
                var router = Router()
                router.unary(Self.hop) { request, context in
                    probe.started.fire()
                    defer { probe.finished.fire() }
                    return try await withTaskCancellationHandler {
                        try await withThrowingTaskGroup(of: Echo.self) { calls in
                            for client in downstream { calls.addTask { try await client.unary(Self.hop, request) } }
                            return try await calls.next()!
                        }
                    } onCancel: {
                        probe.recordCancel(context.cancelReason)
                    }
                }
                let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
                servers.append(server)
                group.addTask { try await server.run() }
                middlePorts.append(try await server.listeningAddress.port!)
            }
            let tops = middlePorts.map { RPCClient(host: "127.0.0.1", port: $0) }
            // The top caller: a 5 s budget, three calls at once, then it gives up.
            let caller = Task {
                try await withThrowingTaskGroup(of: Echo.self) { calls in
                    for client in tops {
                        calls.addTask { try await client.unary(Self.hop, Echo(text: ""), options: CallOptions(timeout: .seconds(5))) }
                    }
                    return try await calls.next()!
                }
            }
            for leaf in leaves { await leaf.started.wait() }
            caller.cancel()
            _ = await caller.result
            for probe in middles + leaves {
                await probe.cancelled.wait()
                await probe.finished.wait()
                // The top caller gives up by cancelling; on a very loaded machine its budget may run out first.
                // Either way the cause is typed and every handler stops.
                #expect(probe.observedReason == .cancelled || probe.observedReason == .deadlineExceeded)
            }
            for server in servers {
                await server.stats(until: { $0.handlersInFlight == 0 })
            }
            for client in tops + clients { await client.close() }
            for server in servers { server.beginGracefulShutdown() }
            try await group.waitForAll()
        }
    }
}
