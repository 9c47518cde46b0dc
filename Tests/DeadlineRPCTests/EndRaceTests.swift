import DeadlineRPC
import MetricsTestKit
import Synchronization
import TestSupport
import Testing

/// Reply, cancel and deadline arriving together, a thousand times: every call must end exactly once on each side.
///
/// On the client a second ending would resume a checked continuation twice and trap, so finishing the run is itself
/// part of the check; on the server every started call must be finished exactly once (counters and metrics agree),
/// with no handler left running and the shared connection still serving.
@Suite("Reply, cancel and deadline racing", .timeLimit(.minutes(5)), .heavyweight)
struct EndRaceTests {
    static let racer = Method<Echo, Echo>.unary("test.Race/ReplyAtDeadline")

    @Test("1000 calls whose reply, caller cancel and deadline coincide each end exactly once")
    func replyCancelDeadlineRace() async throws {
        let calls = 1000
        let batch = 50
        let budget = Duration.milliseconds(20)
        let metrics = TestMetrics()
        var configuration = RPCServer.Configuration()
        configuration.metricsFactory = metrics
        configuration.maxConcurrentStreams = 1000
        var router = Router()
        router.unary(Self.racer) { request, context in
            // Reply at, or up to 6 ms before, the deadline instant, when the server's own timer also fires (the
            // client's deadline, anchored before transit, fires a little earlier still).
            if let index = Int(request.text), let left = context.timeRemaining {
                let early = Duration.microseconds(1000 * (index % 7))
                if left > early { try? await Task.sleep(for: left - early) }
            }
            return request
        }
        let outcomes = Mutex<[String: Int]>([:])
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, client in
            for start in stride(from: 0, to: calls, by: batch) {
                await withTaskGroup(of: String.self) { group in
                    for index in start..<min(start + batch, calls) {
                        group.addTask {
                            let call = Task {
                                try await client.unary(Self.racer, Echo(text: "\(index)"), options: CallOptions(timeout: budget))
                            }
                            // The caller gives up at the deadline too (odd calls a hair before, even ones a hair after).
                            try? await Task.sleep(for: budget + .microseconds(index % 2 == 0 ? 200 : -200))
                            call.cancel()
                            switch await call.result {
                            case .success(let reply):
                                return reply.text == "\(index)" ? "ok" : "wrong reply"
                            case .failure(let error as RPCError):
                                return "\(error.code)"
                            case .failure(let error):
                                return "not an RPCError: \(error)"
                            }
                        }
                    }
                    for await outcome in group {
                        outcomes.withLock { $0[outcome, default: 0] += 1 }
                    }
                }
            }
            let seen = outcomes.withLock { $0 }
            #expect(seen.values.reduce(0, +) == calls)
            // Only the three outcomes a race between these three events may produce.
            #expect(Set(seen.keys).isSubset(of: ["ok", "CANCELLED", "DEADLINE_EXCEEDED"]), "outcomes: \(seen)")

            await server.stats(until: { $0.handlersInFlight == 0 })
            await server.stats(until: { $0.callsFinished == $0.callsStarted })
            let stats = server.stats
            // Calls shed on arrival (budget already spent) count as started and finished without a handler.
            #expect(stats.callsStarted <= calls)
            let method = [("method", Self.racer.name)]
            let finishedByCode = ["OK", "CANCELLED", "DEADLINE_EXCEEDED"].map { code in
                (try? metrics.expectCounter("drpc_server_calls_finished_total", method + [("code", code)]).totalValue) ?? 0
            }
            #expect(finishedByCode.reduce(0, +) == Int64(stats.callsStarted), "server finished \(finishedByCode) of \(stats.callsStarted)")
            #expect(stats.connections == 1, "the shared connection survived the race")

            // And the connection still serves.
            let after = try await client.unary(Self.racer, Echo(text: "after"), options: CallOptions(timeout: .seconds(5)))
            #expect(after.text == "after")
        }
    }
}
