import DeadlineRPC
import Foundation
import RPCBenchCore
import TestSupport
import Testing

/// `rpcbench --target h:p,h:p`: a bench run over several `serve` replicas through the balancer.
@Suite("A multi-endpoint --target: replicas behind the balancer", .timeLimit(.minutes(5)))
struct ReplicasTargetTests {
    private static func hop(_ hop: Int, started: Int, inFlight: Int) -> HopSnapshot {
        HopSnapshot(hop: hop, port: 7_000 + hop, callsStarted: started, callsFinished: started - inFlight, handlersInFlight: inFlight, shedCalls: 1)
    }

    @Test("Replicas' snapshots add up hop by hop; memory adds up; the first replica's clock and ports stay")
    func sum() {
        let a = TopologySnapshot(hops: [Self.hop(1, started: 10, inFlight: 1), Self.hop(2, started: 4, inFlight: 0)], rssBytes: 100, peakRSSBytes: 200, clockNanoseconds: 5)
        let b = TopologySnapshot(hops: [Self.hop(1, started: 7, inFlight: 2), Self.hop(2, started: 3, inFlight: 1)], rssBytes: 50, peakRSSBytes: 60, clockNanoseconds: 9)
        let total = ReplicasTarget.sum([a, b])
        #expect(total.hops.map(\.callsStarted) == [17, 7])
        #expect(total.hops.map(\.callsFinished) == [14, 6])
        #expect(total.hops.map(\.shedCalls) == [2, 2])
        #expect(total.hops.map(\.port) == [7_001, 7_002])
        #expect(total.handlersInFlight == 4)
        #expect(total.rssBytes == 150 && total.peakRSSBytes == 260 && total.clockNanoseconds == 5)
        #expect(ReplicasTarget.sum([]).hops.isEmpty)
    }

    @Test("A replica that does not answer is named in the error", .timeLimit(.minutes(1)))
    func silentReplica() async throws {
        try await withBenchTopology(hops: 1) { serving in
            // Port 1: nothing listens there, so the connection is refused.
            let target = try await ReplicasTarget.make(.endpoints([Endpoint(host: "127.0.0.1", port: serving.entryPort), Endpoint(host: "127.0.0.1", port: 1)]))
            let error = await #expect(throws: RPCError.self) { try await target.snapshot() }
            #expect(error?.message.hasPrefix("Replica 127.0.0.1:1 of the target did not answer: ") == true, "\(String(describing: error))")
            await target.close()
        }
    }

    @Test("A run over two replicas (round robin): both serve victims and storm, records and counters come from both", .heavyweight, .timeLimit(.minutes(2)))
    func twoReplicas() async throws {
        try await withBenchTopology(hops: 1) { first in
            try await withBenchTopology(hops: 1) { second in
                let target = Target.endpoints([first.entryPort, second.entryPort].map { Endpoint(host: "127.0.0.1", port: $0) })
                var configuration = BenchConfiguration()
                configuration.target = .replicas(target)
                configuration.loadBalancing = .roundRobin
                configuration.retry = true
                configuration.load = .open(rate: 200, maxInFlight: 100)
                configuration.warmup = .zero
                configuration.duration = .milliseconds(600)
                var storm = StormConfiguration()
                storm.deadline = false
                storm.burst = false
                storm.chain = false
                storm.cancelRate = 20
                storm.cancelAfter = .milliseconds(60)
                storm.disconnectInterval = .milliseconds(200)
                storm.disconnectCalls = 4
                storm.disconnectAfter = .milliseconds(60)
                storm.work = .milliseconds(600)
                storm.workKind = .park
                configuration.storm = storm

                let report = try await BenchRunner.run(configuration)

                #expect(report.target == target.description)
                #expect(report.phases.map(\.name) == ["calm", "storm"])
                #expect(report.afterRun.drained && report.afterRun.handlersInFlightByHop == [0])
                // Both replicas served calls; the report's hop 1 is the sum of both.
                let served = [first, second].map { $0.snapshot().hops[0].callsStarted }
                #expect(served.allSatisfy { $0 > 0 }, "\(served)")
                #expect(report.afterRun.callsStartedByHop == [served.reduce(0, +)])
                // One client with a connection to each replica, none lost.
                #expect(report.sharedConnections.clients == 2 && report.sharedConnections.lost == 0)
                for phase in report.phases {
                    #expect(phase.victims.errors == 0, "\(phase.name): \(phase.victims.errorsByCode)")
                    #expect(phase.server.handlersInFlightAfterSettle == 0)
                }
                let stormPhase = try #require(report.phase("storm"))
                #expect(stormPhase.stormResults.callsByKind.keys.sorted() == ["cancel", "disconnect"])
                // Handler records of both replicas were joined with the storm's calls.
                #expect(stormPhase.stormResults.cancelToHandlerTask.firstHop.count > 0)
                #expect(stormPhase.stormResults.disconnectToHandlerTask.count > 0)
            }
        }
    }
}
