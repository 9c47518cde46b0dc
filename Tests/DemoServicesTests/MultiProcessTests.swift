import DeadlineRPC
import Foundation
import TestSupport
import Testing

@testable import demo_services
import DemoTopology

/// The services as separate processes (`demo-services serve`, wired by port), driven over loopback HTTP.
@Suite("Demo services as separate processes", .timeLimit(.minutes(5)), .heavyweight)
struct MultiProcessTests {
    @Test("504 mid-chain with every downstream handler stopped, 200 degraded, and a clean exit on SIGTERM")
    func servicesAsProcesses() async throws {
        var settings = DemoTestSupport.settings(.enabled)
        // Far slower than the budget: a warehouse that kept working would be in flight until 5 s.
        settings.latencies[.warehouse] = Latency(fixed: .seconds(5))
        // Each child stops by itself after 120 s even if this test dies before sending SIGTERM.
        let topology = try await ProcessTopology.launch(
            executable: try DemoTestSupport.executable(),
            settings: settings,
            selfStop: .seconds(120)
        )
        var exits: [ProcessTopology.Exit] = []
        do {
            let endpoints = topology.endpoints
            #expect(endpoints.http.count == ServiceName.allCases.count)
            let runner = ScenarioRunner(endpoints: endpoints)

            let fast = try await runner.run(DemoTestSupport.scenario("all-fast", settings))
            #expect(fast.httpStatus == 200)
            #expect(fast.degraded.isEmpty)

            // The budget runs out four hops down: 504, and every handler of the chain stops at the deadline —
            // read from the services' own metrics: no handler in flight anywhere within 3 s of sending (the
            // budget is 1 s), long before the warehouse's 5 s of work would have ended.
            let scenario = DemoTestSupport.scenario("budget-gone", settings)
            let sentAt = ContinuousClock.now
            let reply = try await HTTPFetch.get(endpoints.front, scenario.path, timeout: .seconds(30))
            #expect(reply.status == 504)
            let idle = try await DemoTestSupport.eventually(timeout: .seconds(20)) {
                for service in ServiceName.rpcServices {
                    let scrape = try await DemoTestSupport.scrape(endpoints.http[service]!)
                    if scrape.sum("drpc_server_handlers_in_flight") != 0 { return false }
                }
                return true
            }
            let stoppedAfter = ContinuousClock.now - sentAt
            #expect(idle)
            #expect(stoppedAfter < .seconds(3), "handlers ran until \(stoppedAfter) after the request; the warehouse alone would take 5 s")
            let warehouse = try await DemoTestSupport.scrape(endpoints.http[.warehouse]!)
            #expect(warehouse.sum("drpc_server_calls_started_total", ["method": "demo.Warehouse/Locate"]) == 1)
            #expect(warehouse.sum("drpc_server_calls_finished_total", ["method": "demo.Warehouse/Locate", "code": "DEADLINE_EXCEEDED"]) == 1)
            #expect(warehouse.sum("drpc_server_stragglers_total") ?? 0 == 0)

            // Recommendations are late: 200 with the degraded marker, well within the budget.
            let late = try await runner.run(DemoTestSupport.scenario("fallback", settings))
            #expect(late.httpStatus == 200)
            #expect(late.degraded == ["recommendations"])
            #expect(late.hops[.recommendations]?.outcome == .cancelled)
        } catch {
            _ = await topology.terminate()
            throw error
        }
        exits = await topology.terminate()
        #expect(exits.count == ServiceName.allCases.count)
        for exit in exits {
            #expect(exit.isClean, "\(exit)")
        }
    }
}
