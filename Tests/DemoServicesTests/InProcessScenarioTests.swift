import DeadlineRPC
import TestSupport
import Testing

@testable import demo_services
import DemoTopology

/// The scripted scenarios against two all-in-one topologies, propagation on and off, with exact outcomes.
/// Test latencies make the slow parts seconds long, so "stopped at the deadline" and "kept working" never blur.
@Suite("Demo scenarios, all services in one process", .timeLimit(.minutes(5)), .heavyweight)
struct InProcessScenarioTests {
    /// A hop that stops at the deadline ends within this of it (a generous bound for a loaded 2-core machine;
    /// the work it would otherwise do lasts 2.5 s past the deadline).
    static let stopBound: Duration = .seconds(1)
    /// Work that never heard of the deadline runs at least this long past it (2.5 s in fact).
    static let leakBound: Duration = .milliseconds(1_500)

    @Test("Propagation on vs off: 200, 504 mid-chain, degraded fallback, straggler, shed — with per-hop numbers")
    func scenariosOnAndOff() async throws {
        let on = DemoTestSupport.settings(.enabled)
        let off = DemoTestSupport.settings(.disabledToReproduceLeaks)
        let rows = try await InProcessTopology.with([on, off]) { endpoints in
            try await ScenarioSession.run(Scenario.all(on), on: endpoints)
        }
        let results = Dictionary(uniqueKeysWithValues: rows.map { ($0.scenario.id, ($0.results[0], $0.results[1])) })
        print(ScenarioTable.render(rows, settings: on))

        // 1. All fast: 200 both ways, every hop on the path answered ok, nothing ran past the budget.
        let (fastOn, fastOff) = try #require(results["all-fast"])
        for result in [fastOn, fastOff] {
            #expect(result.httpStatus == 200)
            #expect(result.degraded.isEmpty)
            for service in [ServiceName.gateway, .catalog, .pricing, .inventory, .recommendations] {
                #expect(result.hops[service]?.outcome == .ok, "\(service) in \(result.propagation)")
            }
            #expect(result.hops[.warehouse]?.ran == false)
            #expect(result.hops[.fraud]?.ran == false)
            #expect(result.hopsRanPastBudget == 0)
        }

        // 2. The budget runs out four hops down: 504 both ways.
        let (goneOn, goneOff) = try #require(results["budget-gone"])
        #expect(goneOn.httpStatus == 504)
        #expect(goneOff.httpStatus == 504)
        // On: every hop of the chain was cancelled by the deadline and stopped with it; no stragglers.
        for service in [ServiceName.gateway, .pricing, .inventory, .warehouse] {
            let hop = try #require(goneOn.hops[service])
            #expect(hop.outcome == .cancelled, "\(service)")
            #expect(hop.detail == "deadline exceeded", "\(service)")
            #expect((hop.ranPastBudget ?? .zero) < Self.stopBound, "\(service) ran \(hop.ranPastBudget ?? .zero) past the budget")
        }
        #expect(goneOn.stragglers == 0)
        // Off: the warehouse, inventory and pricing never heard of the budget and finished their work, over a
        // second after the 504 (the warehouse takes 3.5 s); the gateway waited for them and was counted as a straggler.
        for service in [ServiceName.pricing, .inventory, .warehouse] {
            let hop = try #require(goneOff.hops[service])
            #expect(hop.outcome == .ok, "\(service)")
            #expect((hop.ranPastBudget ?? .zero) >= Self.leakBound, "\(service) ran \(hop.ranPastBudget ?? .zero) past the budget")
        }
        #expect(goneOff.hops[.gateway]?.outcome == .cancelled)
        #expect(goneOff.hops[.gateway]?.stragglers == 1)

        // 3. Recommendations are late: on, 200 with the degraded marker, and recommendations stopped at their
        // slice of the budget; off, the fallback's slice never reaches the call, so the page fails with 504.
        let (lateOn, lateOff) = try #require(results["fallback"])
        #expect(lateOn.httpStatus == 200)
        #expect(lateOn.degraded == ["recommendations"])
        let recommendationsOn = try #require(lateOn.hops[.recommendations])
        #expect(recommendationsOn.outcome == .cancelled)
        #expect((recommendationsOn.ranPastBudget ?? .zero) < Self.stopBound)
        #expect(lateOff.httpStatus == 504)
        #expect(lateOff.hops[.recommendations]?.outcome == .ok)
        #expect((lateOff.hops[.recommendations]?.ranPastBudget ?? .zero) >= Self.leakBound)

        // 4. The fraud service ignores cancellation: 504 both ways, and it runs on past the budget either way.
        // On, its call is cancelled at the deadline, so the runtime counts it as a straggler — while every
        // cooperative hop stopped. Off, nobody cancels it (it is just leaked work), and the gateway waiting for it
        // is the straggler.
        let (stragglerOn, stragglerOff) = try #require(results["straggler"])
        for result in [stragglerOn, stragglerOff] {
            #expect(result.httpStatus == 504)
            #expect((result.hops[.fraud]?.ranPastBudget ?? .zero) >= Self.leakBound)
        }
        let fraudOn = try #require(stragglerOn.hops[.fraud])
        #expect(fraudOn.outcome == .cancelled)
        #expect(fraudOn.detail == "deadline exceeded")
        #expect(fraudOn.stragglers == 1)
        #expect(stragglerOn.hops[.gateway]?.stragglers == 0)
        #expect((stragglerOn.hops[.gateway]?.ranPastBudget ?? .zero) < Self.stopBound)
        #expect(stragglerOff.hops[.fraud]?.outcome == .ok)
        #expect(stragglerOff.hops[.fraud]?.stragglers == 0)
        #expect(stragglerOff.hops[.gateway]?.stragglers == 1)

        // 5. Too little budget: the gateway never runs its handler (the runtime sheds the call), 504.
        let (tinyOn, tinyOff) = try #require(results["tiny-budget"])
        for result in [tinyOn, tinyOff] {
            #expect(result.httpStatus == 504)
            #expect(result.budgetMs == 150)
            #expect(result.hops[.gateway]?.ran == false)
            #expect(result.hops.values.allSatisfy { !$0.ran })
        }
    }
}
