@testable import DeadlineRPC
import Synchronization
import Testing

@Suite("Combinators: fallback reserve", .timeLimit(.minutes(5)))
struct CombinatorTests {
    static let degrade = Method<Echo, Echo>.unary("test.Fallback/Degrade")

    // MARK: Fallback

    @Test("Fallback keeps its reserve: a dependency that never answers is cut short so the caller gets the fallback in time")
    func fallbackKeepsReserve() async throws {
        let leaf = HandlerProbe()
        let box = Mutex<RPCClient?>(nil)
        let seen = Mutex<(handlerDeadline: Deadline?, leftForFallback: Duration?)>((nil, nil))
        let reserve = Duration.milliseconds(1500)
        var router = Router()
        router.unary(TestMethods.wait) { _, context in try await leaf.waitForCancellation(context) }
        router.unary(Self.degrade) { request, context in
            let inner = box.withLock { $0 }!
            seen.withLock { $0.handlerDeadline = context.deadline }
            // A sub-budget far beyond the inherited deadline: only the reserve can end the dependency in time.
            let text = try await CallGroup.withFallback(budget: .seconds(60), reserve: reserve) {
                try await inner.unary(TestMethods.wait, request).text
            } fallback: {
                seen.withLock { $0.leftForFallback = CallContext.current?.timeRemaining }
                return "fallback"
            }
            return Echo(text: text)
        }
        try await withServerAndClient(router: router) { server, client in
            let inner = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!)
            box.withLock { $0 = inner }
            let budget = Duration.seconds(4)
            let started = ContinuousClock.now
            let reply = try await client.unary(Self.degrade, Echo(text: ""), options: CallOptions(timeout: budget))
            let elapsed = ContinuousClock.now - started
            #expect(reply.text == "fallback")
            #expect(elapsed < budget, "the fallback arrived before the inherited deadline")
            // The dependency had its time: everything but the reserve (lower bounds are safe under load).
            #expect(elapsed >= budget - reserve - .milliseconds(200))
            let (handlerDeadline, left) = seen.withLock { $0 }
            // Without the fix the fallback ran with a few ms left; a third of the reserve is a generous floor.
            let leftForFallback = try #require(left)
            #expect(leftForFallback > reserve / 3)
            await leaf.cancelled.wait()
            #expect(leaf.observedReason == .deadlineExceeded)
            // The leaf re-anchors its budget on arrival, which can only move it a little later.
            let leafDeadline = try #require(leaf.observedDeadline)
            let degradeDeadline = try #require(handlerDeadline)
            #expect(leafDeadline <= degradeDeadline + (.zero - reserve) + .milliseconds(500))
            await inner.close()
        }
    }

    /// A root context with `deadline`, as a handler's would be, without a network.
    static func withDeadline<T>(_ deadline: Deadline, _ body: () async throws -> T) async rethrows -> T {
        try await CallContext.$current.withValue(CallContext.root(deadline: deadline, control: CallControl())) {
            try await body()
        }
    }

    @Test("Fallback narrows the operation's deadline to min(now + budget, inherited - reserve)")
    func fallbackDeadlineRule() async throws {
        let inherited = Deadline.now() + .seconds(10)
        let reserve = Duration.seconds(2)
        let seen = Mutex<[Deadline?]>([])
        try await Self.withDeadline(inherited) {
            for budget in [Duration.seconds(60), nil] {
                _ = try await CallGroup.withFallback(budget: budget, reserve: reserve) {
                    seen.withLock { $0.append(CallContext.current?.deadline) }
                    return 0
                } fallback: { -1 }
            }
            let before = Deadline.now()
            _ = try await CallGroup.withFallback(budget: .seconds(1), reserve: reserve) {
                seen.withLock { $0.append(CallContext.current?.deadline) }
                return 0
            } fallback: { -1 }
            let after = Deadline.now()
            let deadlines = seen.withLock { $0 }
            #expect(deadlines.count == 3)
            #expect(deadlines[0] == inherited + (.zero - reserve), "a long budget stops at the reserve")
            #expect(deadlines[1] == inherited + (.zero - reserve), "no budget still keeps the reserve")
            let short = try #require(deadlines[2])
            #expect(short >= before + .seconds(1) && short <= after + .seconds(1), "a short budget wins")
            // The caller's own deadline is untouched outside the operation.
            #expect(CallContext.current?.deadline == inherited)
        }
    }

    @Test("Fallback: no more than the reserve left runs the fallback at once; deadlineExceeded/unavailable fall back, other errors are rethrown")
    func fallbackOutcomes() async throws {
        let ran = Atomic<Int>(0)
        let value = await Self.withDeadline(Deadline.now() + .milliseconds(100)) {
            try? await CallGroup.withFallback(reserve: .seconds(1)) {
                ran.add(1, ordering: .relaxed)
                return "operation"
            } fallback: { "fallback" }
        }
        #expect(value == "fallback")
        #expect(ran.load(ordering: .relaxed) == 0, "the operation never started")
        for code in [RPCError.Code.deadlineExceeded, .unavailable] {
            let degraded = try await CallGroup.withFallback(reserve: .seconds(1)) { () -> String in
                throw RPCError(code: code, message: "down")
            } fallback: { "fallback" }
            #expect(degraded == "fallback", "\(code)")
        }
        let error = await #expect(throws: RPCError.self) {
            try await CallGroup.withFallback { () -> String in
                throw RPCError(code: .notFound, message: "missing")
            } fallback: { "fallback" }
        }
        #expect(error?.code == .notFound)
    }
}
