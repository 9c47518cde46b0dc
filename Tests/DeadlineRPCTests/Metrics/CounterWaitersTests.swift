@testable import DeadlineRPC
import Synchronization
import Testing

@Suite("Awaiting counters: CounterWaiters, behind RPCServer.stats(until:) in the tests", .timeLimit(.minutes(5)))
struct CounterWaitersTests {
    /// One counter changed the way `ServerMetrics` changes its own.
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        let waiters = CounterWaiters<Int>()

        func add() {
            self.value.add(1, ordering: .sequentiallyConsistent)
            self.waiters.changed { self.value.load(ordering: .sequentiallyConsistent) }
        }

        func wait(until condition: @escaping @Sendable (Int) -> Bool) async -> Int? {
            await self.waiters.wait(until: condition) { self.value.load(ordering: .sequentiallyConsistent) }
        }
    }

    @Test("A condition that already holds returns at once, with the reading")
    func alreadyHolds() async {
        let counter = Counter()
        counter.add()
        #expect(await counter.wait(until: { $0 == 1 }) == 1)
    }

    @Test("A waiter is woken by the change that makes its condition hold, not before")
    func wokenByTheChange() async {
        let counter = Counter()
        let waiter = Task { await counter.wait(until: { $0 == 3 }) }
        counter.add()
        counter.add()
        counter.add()
        #expect(await waiter.value == 3)
    }

    @Test("Cancelling the waiting task ends the wait with nil, registered or not yet")
    func cancellation() async {
        let counter = Counter()
        let waiting = Task { await counter.wait(until: { _ in false }) }
        waiting.cancel()
        #expect(await waiting.value == nil)
        // Later changes find no waiter left behind.
        counter.add()
        #expect(await counter.wait(until: { $0 == 1 }) == 1)
    }

    @Test("No wake-up is lost while writers and waiters race (4 writers, 64 waiters)")
    func noLostWakeUp() async {
        let counter = Counter()
        let perWriter = 2_000
        await withTaskGroup(of: Void.self) { group in
            for k in 0..<64 {
                let threshold = k * (4 * perWriter) / 64 + 1
                group.addTask {
                    _ = await awaitCondition("counter ≥ \(threshold)", timeout: .seconds(30), sourceLocation: #_sourceLocation, now: { counter.value.load(ordering: .relaxed) }) {
                        await counter.wait(until: { $0 >= threshold })
                    }
                }
            }
            for _ in 0..<4 {
                group.addTask { for _ in 0..<perWriter { counter.add() } }
            }
        }
        #expect(counter.value.load(ordering: .relaxed) == 4 * perWriter)
    }

    @Test("A condition never reached fails the test with an issue after the timeout instead of hanging")
    func timeoutRecordsAnIssue() async {
        let counter = Counter()
        await withKnownIssue {
            let reached = await awaitCondition("The counter", timeout: .milliseconds(20), sourceLocation: #_sourceLocation, now: { counter.value.load(ordering: .relaxed) }) {
                await counter.wait(until: { $0 == 1 })
            }
            #expect(!reached)
        }
    }

    @Test("RPCServer.stats(until:) is woken by the server's own counters")
    func serverStats() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        try await withServerAndClient(router: router) { server, client in
            let finished = Task { await server.stats(until: { $0.callsFinished == 2 }) }
            _ = try await client.unary(TestMethods.echo, Echo(text: "1"))
            _ = try await client.unary(TestMethods.echo, Echo(text: "2"))
            #expect(await finished.value)
            #expect(server.stats.callsStarted == 2)
        }
    }
}
