@testable import DeadlineRPC
import Synchronization
import Testing

/// What one hop of a relay chain saw once its call was cancelled, read in the handler's own task (an
/// `onCancel` closure runs in the cancelling task, whose task-locals are not the handler's).
final class HopRecord: Sendable {
    struct Seen: Sendable {
        var hopCount: Int?
        /// The cause on the `CallContext` the handler was given.
        var fromContext: CancelReason?
        /// The cause on `CallContext.current`, as code deep inside the handler would read it.
        var fromCurrent: CancelReason?
        /// The cause carried by the error the hop's own outbound call ended with (nil at the leaf).
        var downstream: CancelReason?
    }

    let started = Signal()
    let finished = Signal()
    private let state = Mutex(Seen())

    var seen: Seen { self.state.withLock { $0 } }

    func record(_ context: CallContext, downstream: CancelReason? = nil) {
        let current = CallContext.current?.cancelReason
        self.state.withLock { $0 = Seen(hopCount: context.hopCount, fromContext: context.cancelReason, fromCurrent: current, downstream: downstream) }
    }
}

@Suite("Combinators: fallback reserve, causes two hops down, hedging", .timeLimit(.minutes(5)))
struct CombinatorTests {
    static let hop = Method<Echo, Echo>.unary("test.Relay/Hop")
    static let degrade = Method<Echo, Echo>.unary("test.Fallback/Degrade")
    static let attempt = Method<Echo, Echo>.unary("test.Hedge/Attempt")

    /// Runs `depth` servers on separate connections; hop i relays to hop i+1, the last waits for cancellation.
    static func withRelayChain(depth: Int, _ body: @Sendable (RPCClient, [HopRecord]) async throws -> Void) async throws {
        let records = (0..<depth).map { _ in HopRecord() }
        try await withServerChain(depth: depth) { index, nextPort, clients in
            let record = records[index]
            var router = Router()
            if let port = nextPort {
                let downstream = RPCClient(host: "127.0.0.1", port: port)
                clients.append(downstream)
                router.unary(Self.hop) { request, context in
                    record.started.fire()
                    defer { record.finished.fire() }
                    do {
                        return try await downstream.unary(Self.hop, request)
                    } catch {
                        record.record(context, downstream: (error as? RPCError)?.cancelReason)
                        throw error
                    }
                }
            } else {
                router.unary(Self.hop) { _, context in
                    record.started.fire()
                    defer { record.finished.fire() }
                    let cancelled = Signal()
                    _ = await withTaskCancellationHandler {
                        await cancelled.wait()
                    } onCancel: {
                        cancelled.fire()
                    }
                    record.record(context)
                    throw CancellationError()
                }
            }
            return router
        } body: { top, _ in
            try await body(top, records)
        }
    }

    /// Asserts that every hop, down to the leaf `records.count - 1` hops below the first server, saw `cause`.
    static func expectEveryHopSaw(_ cause: CancelReason, _ records: [HopRecord]) async {
        for (index, record) in records.enumerated() {
            await record.finished.wait()
            let seen = record.seen
            #expect(seen.hopCount == index)
            #expect(seen.fromContext == cause, "hop \(index): the handler's context")
            #expect(seen.fromCurrent == cause, "hop \(index): CallContext.current")
            if index < records.count - 1 {
                #expect(seen.downstream == cause, "hop \(index): the error its own outbound call ended with")
            }
        }
    }

    // MARK: Fallback

    @Test("Fallback keeps its reserve: a dependency that never answers is cut short so the caller gets the fallback in time")
    func fallbackKeepsReserve() async throws {
        let leaf = HandlerProbe()
        let box = Mutex<RPCClient?>(nil)
        let seen = Mutex<(handlerDeadline: Deadline?, dependencyDeadline: Deadline?, fallbackDeadline: Deadline?)>(
            (nil, nil, nil)
        )
        let reserve = Duration.milliseconds(1500)
        var router = Router()
        router.unary(TestMethods.wait) { _, context in try await leaf.waitForCancellation(context) }
        router.unary(Self.degrade) { request, context in
            let inner = box.withLock { $0 }!
            seen.withLock { $0.handlerDeadline = context.deadline }
            // A sub-budget far beyond the inherited deadline: only the reserve can end the dependency in time.
            let text = try await CallGroup.withFallback(budget: .seconds(60), reserve: reserve) {
                seen.withLock { $0.dependencyDeadline = CallContext.current?.deadline }
                return try await inner.unary(TestMethods.wait, request).text
            } fallback: {
                seen.withLock { $0.fallbackDeadline = CallContext.current?.deadline }
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
            let (handlerDeadline, dependencyDeadline, fallbackDeadline) = seen.withLock { $0 }
            // The dependency runs to exactly the reserve before the handler's deadline (without the fix it ran to
            // the deadline itself and left the fallback a few ms), and the fallback keeps the handler's deadline.
            // Deadlines, not the time the fallback saw left, so a loaded machine cannot move the check.
            let degradeDeadline = try #require(handlerDeadline)
            #expect(dependencyDeadline == degradeDeadline + (.zero - reserve))
            #expect(fallbackDeadline == degradeDeadline)
            await leaf.cancelled.wait()
            #expect(leaf.observedReason == .deadlineExceeded)
            // The leaf re-anchors its budget on arrival, which can only move it a little later.
            let leafDeadline = try #require(leaf.observedDeadline)
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

    // MARK: Causes two hops down

    @Test("Fan-out: the failed sibling's cause reaches every hop of the other sibling's chain, down to the leaf two hops below")
    func siblingFailedTwoHopsDown() async throws {
        try await Self.withRelayChain(depth: 3) { top, records in
            let chainError = Mutex<RPCError?>(nil)
            let operations: [@Sendable () async throws -> Echo] = [
                {
                    do {
                        return try await top.unary(Self.hop, Echo(text: "chain"), options: CallOptions(timeout: .seconds(30)))
                    } catch {
                        chainError.withLock { $0 = error as? RPCError }
                        throw error
                    }
                },
                {
                    await records[2].started.wait()  // The chain reached its leaf before this sibling fails.
                    throw RPCError(code: .notFound, message: "this sibling fails")
                },
            ]
            let error = await #expect(throws: RPCError.self) { _ = try await CallGroup.all(operations) }
            #expect(error?.code == .notFound)
            let chain = chainError.withLock { $0 }
            #expect(chain?.code == .cancelled)
            #expect(chain?.cancelReason == .siblingFailed)
            await Self.expectEveryHopSaw(.siblingFailed, records)
        }
    }

    @Test("Race: the loser's chain sees 'hedge lost' at every hop, down to the leaf two hops below")
    func hedgeLostTwoHopsDown() async throws {
        try await Self.withRelayChain(depth: 3) { top, records in
            let chainError = Mutex<RPCError?>(nil)
            let operations: [@Sendable () async throws -> Echo] = [
                {
                    do {
                        return try await top.unary(Self.hop, Echo(text: "chain"), options: CallOptions(timeout: .seconds(30)))
                    } catch {
                        chainError.withLock { $0 = error as? RPCError }
                        throw error
                    }
                },
                {
                    await records[2].started.wait()  // The chain reached its leaf before this one wins.
                    return Echo(text: "fast")
                },
            ]
            let winner = try await CallGroup.race(operations)
            #expect(winner.text == "fast")
            let chain = chainError.withLock { $0 }
            #expect(chain?.code == .cancelled)
            #expect(chain?.cancelReason == .hedgeLost)
            await Self.expectEveryHopSaw(.hedgeLost, records)
        }
    }

    // MARK: Hedge

    @Test("Hedge: a slow first attempt is hedged after the delay, the first answer wins, the loser sees 'hedge lost'")
    func hedgeAfterDelay() async throws {
        let slow = HandlerProbe()
        let secondArrived = Mutex<ContinuousClock.Instant?>(nil)
        var router = Router()
        router.unary(Self.attempt) { request, context in
            if request.text == "attempt 1" { return try await slow.waitForCancellation(context) }
            secondArrived.withLock { $0 = ContinuousClock.now }
            return Echo(text: "answered by \(request.text)")
        }
        try await withServerAndClient(router: router) { server, client in
            let attempts = Atomic<Int>(0)
            let delay = Duration.milliseconds(300)
            let started = ContinuousClock.now
            let reply = try await CallGroup.hedge(after: delay) {
                let number = attempts.add(1, ordering: .relaxed).newValue
                // The hedge only goes out once the first attempt is running, so "slow" is an event, not a guess.
                if number > 1 { await slow.started.wait() }
                return try await client.unary(Self.attempt, Echo(text: "attempt \(number)"), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(reply.text == "answered by attempt 2")
            #expect(attempts.load(ordering: .relaxed) == 2)
            let arrived = try #require(secondArrived.withLock { $0 })
            #expect(arrived - started >= delay, "the second attempt waited for the delay")
            await slow.cancelled.wait()
            await slow.finished.wait()
            #expect(slow.observedReason == .hedgeLost)
            await server.stats(until: { $0.handlersInFlight == 0 })
        }
    }

    @Test("Hedge: no second attempt starts when the remaining budget is not more than the delay")
    func hedgeWithoutBudgetForSecondAttempt() async throws {
        let attempts = Atomic<Int>(0)
        let error = await #expect(throws: RPCError.self) {
            try await Self.withDeadline(Deadline.now() + .milliseconds(500)) {
                try await CallGroup.hedge(after: .seconds(1)) { () -> Int in
                    attempts.add(1, ordering: .relaxed)
                    throw RPCError(code: .deadlineExceeded, message: "the only attempt ran out of time")
                }
            }
        }
        #expect(error?.code == .deadlineExceeded)
        // A scheduled hedge would have run (and counted) before hedge returned: a race waits for every attempt.
        #expect(attempts.load(ordering: .relaxed) == 1)
    }
}
