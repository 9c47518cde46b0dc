import DeadlineRPC
import Synchronization
import Testing

@Suite("Deadline hygiene: clamps, strict mode, admission, escape hatches, combinators", .timeLimit(.minutes(5)))
struct DeadlineHygieneTests {
    static let relay = Method<Echo, Echo>.unary("test.Relay/Forward")

    /// A server whose `relay` handler forwards to `echo`/`wait` on the same server through `downstream`.
    static func relayRouter(probe: HandlerProbe, downstream: @escaping @Sendable () -> RPCClient?, options: CallOptions) -> Router {
        var router = Router()
        router.unary(TestMethods.wait) { _, context in try await probe.waitForCancellation(context) }
        router.unary(TestMethods.echo) { request, _ in request }
        router.unary(Self.relay) { request, _ in
            try await downstream()!.unary(TestMethods.wait, request, options: options)
        }
        return router
    }

    @Test("A timeout longer than the inherited budget is clamped to it, counted, and not obeyed")
    func clampIsReportedAndNotObeyed() async throws {
        let probe = HandlerProbe()
        let box = Mutex<RPCClient?>(nil)
        let router = Self.relayRouter(probe: probe, downstream: { box.withLock { $0 } }, options: CallOptions(timeout: .seconds(60)))
        try await withServerAndClient(router: router) { server, client in
            let inner = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!)
            box.withLock { $0 = inner }
            let started = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                // 4 s: room for the relay to reach the inner handler even when a loaded machine stalls the run.
                try await client.unary(Self.relay, Echo(text: ""), options: CallOptions(timeout: .seconds(4)))
            }
            #expect(error?.code == .deadlineExceeded)
            await probe.cancelled.wait()
            #expect(ContinuousClock.now - started < .seconds(30), "the 60 s option was not obeyed")
            #expect(inner.stats.clampedDeadlines == 1)
            let seen = try #require(probe.observedDeadline)
            #expect(seen.timeRemaining < .seconds(4))
            await inner.close()
        }
    }

    @Test("Strict mode refuses a call without a deadline with failedPrecondition and says how to fix it")
    func strictMode() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        // guide:begin strict-mode
        var configuration = RPCClient.Configuration()
        configuration.requireDeadline = true
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            let error = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "")) }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("CallOptions(timeout:)") == true)
            #expect(client.stats.refusedWithoutDeadline == 1)
            #expect(server.stats.callsStarted == 0)
            let reply = try await client.unary(TestMethods.echo, Echo(text: "ok"), options: CallOptions(timeout: .seconds(30)))
            #expect(reply.text == "ok")
        }
        // guide:end strict-mode
    }

    @Test("Minimum-budget admission at the call site: a call that cannot finish is not started")
    func outboundMinimumBudget() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        var configuration = RPCClient.Configuration()
        configuration.minimumBudget = .milliseconds(50)
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: ""), options: CallOptions(timeout: .milliseconds(10)))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(client.stats.shedLocally == 1)
            #expect(server.stats.callsStarted == 0)
        }
    }

    @Test("Deadline-free work is explicit: a detached task sees no call context; a captured context carries it")
    func escapeHatches() async throws {
        let seen = Mutex<(detached: Bool?, captured: Deadline?)>((nil, nil))
        var router = Router()
        router.unary(TestMethods.echo) { request, context in
            // guide:begin escape-hatches
            let detached = CallContext.detachedDeadlineFree { CallContext.current == nil }
            let captured = context.capture()
            let deadline = await captured.run { CallContext.current?.deadline }
            // guide:end escape-hatches
            let free = try await detached.value
            seen.withLock { $0 = (free, deadline) }
            return request
        }
        try await withServerAndClient(router: router) { _, client in
            // The budget only has to outlast a starved test run; the test is about what the tasks see, not time.
            _ = try await client.unary(TestMethods.echo, Echo(text: ""), options: CallOptions(timeout: .seconds(60)))
            let (detached, captured) = seen.withLock { $0 }
            #expect(detached == true)
            #expect(captured != nil)
        }
    }

    @Test("Fan-out: the first failure cancels the siblings, whose servers see cause 'sibling failed'")
    func fanOutCancelsSiblings() async throws {
        let probes = [HandlerProbe(), HandlerProbe()]
        let counter = Atomic<Int>(0)
        var router = Router()
        router.unary(TestMethods.wait) { _, context in
            let index = counter.wrappingAdd(1, ordering: .relaxed).oldValue
            return try await probes[index].waitForCancellation(context)
        }
        router.unary(TestMethods.echo) { _, _ in throw RPCError(code: .notFound, message: "no such thing") }
        try await withServerAndClient(router: router) { server, client in
            let error = await #expect(throws: RPCError.self) {
                let operations: [@Sendable () async throws -> Echo] = [
                    { try await client.unary(TestMethods.wait, Echo(text: "")) },
                    { try await client.unary(TestMethods.wait, Echo(text: "")) },
                    {
                        for probe in probes { await probe.started.wait() }
                        return try await client.unary(TestMethods.echo, Echo(text: ""))
                    },
                ]
                _ = try await CallGroup.all(operations)
            }
            #expect(error?.code == .notFound)
            for probe in probes {
                await probe.cancelled.wait()
                #expect(probe.observedReason == .siblingFailed)
            }
            await server.stats(until: { $0.handlersInFlight == 0 })
        }
    }

    @Test("Race: the first answer wins and the loser's server sees cause 'hedge lost'")
    func raceCancelsLoser() async throws {
        let probe = HandlerProbe()
        var router = Router()
        router.unary(TestMethods.wait) { _, context in try await probe.waitForCancellation(context) }
        router.unary(TestMethods.echo) { request, _ in request }
        try await withServerAndClient(router: router) { _, client in
            let operations: [@Sendable () async throws -> Echo] = [
                { try await client.unary(TestMethods.wait, Echo(text: "slow")) },
                {
                    await probe.started.wait()
                    return try await client.unary(TestMethods.echo, Echo(text: "fast"))
                },
            ]
            let winner = try await CallGroup.race(operations)
            #expect(winner.text == "fast")
            await probe.cancelled.wait()
            #expect(probe.observedReason == .hedgeLost)
        }
    }

    @Test("Fallback: a late non-critical dependency is replaced by the fallback within its sub-budget")
    func fallbackOnDeadline() async throws {
        let probe = HandlerProbe()
        var router = Router()
        router.unary(TestMethods.wait) { _, context in try await probe.waitForCancellation(context) }
        try await withServerAndClient(router: router) { _, client in
            let started = ContinuousClock.now
            // guide:begin fallback
            let value = try await CallGroup.withFallback(budget: .milliseconds(800)) {
                try await client.unary(TestMethods.wait, Echo(text: "")).text
            } fallback: {
                "cached"
            }
            // guide:end fallback
            #expect(value == "cached")
            // The slow call never returns on its own (its handler waits for cancellation), so any bound proves the
            // fallback came from the 800 ms sub-budget; 20 s leaves room for a starved 2-core test run.
            #expect(ContinuousClock.now - started < .seconds(20))
            await probe.cancelled.wait()
            #expect(probe.observedReason == .deadlineExceeded)
        }
    }
}
