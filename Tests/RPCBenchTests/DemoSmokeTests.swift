import DemoTopology
import Foundation
import RPCBenchCore
import RPCBenchDemo
import TestSupport
import Testing

@Suite("Smoke: a tiny run against the demo topology (--target demo)", .timeLimit(.minutes(5)), .heavyweight)
struct DemoSmokeTests {
    @Test("All phases run through the gateway, every service drains, fraud's stragglers show, the JSON has every field", .timeLimit(.minutes(2)))
    func tinyDemoRun() async throws {
        var configuration = DemoBench.defaultConfiguration
        configuration.load = .open(rate: 20, maxInFlight: 100)
        configuration.warmup = .milliseconds(200)
        configuration.duration = .milliseconds(800)
        configuration.drainTimeout = .seconds(10)
        var storm = configuration.storm
        storm.cancelRate = 10
        storm.deadlineRate = 10
        storm.burstSize = 10
        storm.burstInterval = .milliseconds(300)
        storm.burstRamp = .milliseconds(20)
        storm.disconnectInterval = .milliseconds(300)
        storm.disconnectCalls = 3
        storm.chainRate = 6
        // Deaths long after the gateway's fan-out (about 30 ms down to the warehouse on an idle machine) and well
        // inside the warehouse's and the fraud check's 1.5 s, so handlers are running at every depth when they come
        // even in a debug build on a machine loaded by the rest of the suite; budgets above the gateway's 200 ms
        // minimum (below it the gateway sheds the call unstarted).
        storm.cancelAfter = .milliseconds(400)
        storm.chainCancelAfter = .milliseconds(400)
        storm.burstCancelAfter = .milliseconds(400)
        storm.disconnectAfter = .milliseconds(400)
        storm.deadlineBudget = .milliseconds(600)
        storm.chainBudget = .milliseconds(600)
        configuration.storm = storm
        var settings = TopologySettings()
        settings.latencies[.warehouse] = Latency(fixed: .milliseconds(1_500))
        settings.latencies[.fraud] = Latency(fixed: .milliseconds(1_500))
        // Above those 1.5 s, so with propagation off nothing but the work itself ends a call.
        settings.safetyNetTimeout = .seconds(10)

        let report = try await DemoBench.run(configuration, settings: settings)

        #expect(report.target == "demo")
        #expect(report.configuration.hops == 4)
        #expect(report.phases.map(\.name) == ["calm", "storm", "storm-propagation-off"])
        // Read from every service's own /stats: nothing left running anywhere, in either topology.
        #expect(report.afterRun.drained)
        #expect(report.afterRun.handlersInFlight == 0)
        #expect(report.afterRun.handlersInFlightByHop == [0, 0, 0, 0])
        #expect(report.afterRun.callsStartedByHop.allSatisfy { $0 > 0 })
        #expect(report.memory.serverRSSBeforeBytes > 0 && report.memory.serverRSSAfterBytes > 0)
        #expect(report.clock.shared)
        #expect(report.sharedConnections.counted && report.sharedConnections.lost == 0)
        for phase in report.phases {
            #expect(phase.victims.succeeded > 0)
            #expect(phase.server.callsStarted > 0 && phase.server.callsFinished > 0)
            #expect(phase.server.handlersInFlightAfterSettle == 0)
        }

        let on = try #require(report.phase("storm"))
        #expect(on.stormResults.callsByKind.keys.sorted() == ["burst", "cancel", "chain-cancel", "chain-deadline", "deadline", "disconnect"])
        #expect(on.stormResults.cancelToHandlerTask.firstHop.count > 0)
        #expect(on.stormResults.cancelToHandlerTask.lastHop.count > 0)
        // Chain calls include the fraud check (hop 2), which ignores its cancellation: it runs to completion
        // after the call died and becomes a straggler — with propagation on too.
        #expect(on.server.stragglers > 0)
        #expect(on.stormResults.wastedWork.byHop[1].ranToCompletionAfterDeath > 0)
        // With propagation off the deeper services (pricing, inventory, the warehouse) work on after every death.
        let off = try #require(report.phase("storm-propagation-off"))
        #expect(off.stormResults.wastedWork.beyondFirstHopMilliseconds > on.stormResults.wastedWork.beyondFirstHopMilliseconds)
        #expect(off.stormResults.cancelToHandlerTask.neverCancelledByHop[3] > 0)

        let json = try JSONSerialization.jsonObject(with: report.json())
        #expect(missingFields(of: report, in: json) == [])
        #expect(ReportTable.render(report).contains("Victims (checkouts)"))
        #expect(PercentilePlot.svg(for: report).contains("<polyline"))
    }
}
