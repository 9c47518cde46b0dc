import Foundation
import RPCBenchCore
import TestSupport
import Testing

@Suite("Smoke: a tiny embedded run through the library entry point", .timeLimit(.minutes(5)), .heavyweight)
struct SmokeTests {
    @Test("All phases run, handlers return to zero, and the JSON has every field", .timeLimit(.minutes(2)))
    func tinyRun() async throws {
        var configuration = BenchConfiguration()
        configuration.target = .embedded(hops: 2)
        configuration.load = .open(rate: 200, maxInFlight: 100)
        configuration.warmup = .milliseconds(200)
        configuration.duration = .seconds(1)
        configuration.drainTimeout = .seconds(5)
        var storm = StormConfiguration()
        storm.cancelRate = 20
        storm.deadlineRate = 20
        storm.burstSize = 50
        storm.burstInterval = .milliseconds(250)
        storm.disconnectInterval = .milliseconds(250)
        storm.disconnectCalls = 5
        storm.chainRate = 10
        // Delays well inside the work, so handlers are running when the cancel comes even in a debug build on a
        // loaded machine (a handler that had not started yet gives no cancel→handler sample).
        storm.cancelAfter = .milliseconds(60)
        storm.deadlineBudget = .milliseconds(60)
        storm.chainCancelAfter = .milliseconds(60)
        storm.chainBudget = .milliseconds(80)
        storm.burstRamp = .milliseconds(20)
        // A loaded CI run once started none of two bursts' 100 handlers within 120 ms: four bursts, 270 ms each.
        storm.burstCancelAfter = .milliseconds(250)
        storm.work = .milliseconds(600)
        configuration.storm = storm

        let report = try await BenchRunner.run(configuration)

        #expect(report.phases.map(\.name) == ["calm", "storm", "storm-propagation-off"])
        #expect(report.afterRun.drained)
        #expect(report.afterRun.handlersInFlight == 0)
        #expect(report.afterRun.handlersInFlightByHop == [0, 0])
        #expect(report.clock.shared)
        // One shared connection, never lost (the storm's disconnects use clients of their own).
        #expect(report.sharedConnections.counted)
        #expect(report.sharedConnections.lost == 0)
        for phase in report.phases {
            #expect(phase.victims.succeeded > 0)
            #expect(phase.server.handlersInFlightAfterSettle == 0)
        }
        let storm1 = try #require(report.phase("storm"))
        #expect(storm1.stormResults.totalCalls > 0)
        #expect(storm1.stormResults.callsByKind.keys.sorted() == ["burst", "cancel", "chain-cancel", "chain-deadline", "deadline", "disconnect"])
        #expect(storm1.stormResults.cancelToHandlerTask.firstHop.count > 0)
        #expect(storm1.stormResults.burstCancelToHandlerTask.count > 0)
        // With propagation off, the second hop runs its work after the call died; with it on, it does not.
        let off = try #require(report.phase("storm-propagation-off"))
        #expect(off.stormResults.wastedWork.beyondFirstHopMilliseconds > storm1.stormResults.wastedWork.beyondFirstHopMilliseconds)
        #expect(off.stormResults.wastedWork.byHop[1].ranToCompletionAfterDeath > 0)

        let json = try JSONSerialization.jsonObject(with: report.json())
        #expect(missingFields(of: report, in: json) == [])
        #expect(ReportTable.render(report).contains("Goals"))
        #expect(PercentilePlot.svg(for: report).contains("<polyline"))
    }
}
