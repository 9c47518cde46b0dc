import DeadlineRPC
import Foundation
import TestSupport
import Testing

@testable import demo_services
import DemoTopology

/// The shipped straggler alert, evaluated against real scrapes of the demo's services.
@Suite("Straggler alert rules against the demo's /metrics", .timeLimit(.minutes(5)), .heavyweight)
struct AlertRuleTests {
    @Test("DeadlineRPCStragglers fires on the fraud service while it straggles, not on a cooperative service")
    func stragglerAlertFires() async throws {
        let rules = try AlertRule.load(DemoTestSupport.root.appendingPathComponent("docs/alerts/deadlinerpc.rules.yml"))
        let stragglers = try #require(rules.first { $0.name == "DeadlineRPCStragglers" })
        let threshold = try #require(stragglers.instantThreshold, "the rule is no longer `sum by (…) (METRIC) > N`: \(stragglers.expression)")
        #expect(threshold.metric == "drpc_server_stragglers")

        let settings = DemoTestSupport.settings(.enabled)
        try await InProcessTopology.with([settings]) { endpoints in
            let topology = endpoints[0]
            let fraud = try #require(topology.http[.fraud])
            let catalog = try #require(topology.http[.catalog])

            // Before: every metric the rules read exists in the scrape, and no rule condition holds.
            let quiet = try await DemoTestSupport.scrape(fraud)
            #expect(stragglers.fires(on: quiet) == false)

            // An order that needs the fraud check: 504 at the budget, the fraud handler runs on.
            let scenario = DemoTestSupport.scenario("straggler", settings)
            let reply = try await HTTPFetch.get(topology.front, scenario.path, timeout: .seconds(30))
            #expect(reply.status == 504)

            // While it straggles (from the 1 s grace period after the deadline until it returns, 1.5 s later), the
            // rule fires.
            var during = quiet
            let fired = try await DemoTestSupport.eventually {
                during = try await DemoTestSupport.scrape(fraud)
                return stragglers.fires(on: during) == true
            }
            #expect(fired, "drpc_server_stragglers never rose above \(threshold.threshold) on the fraud service")
            #expect(stragglers.fires(on: try await DemoTestSupport.scrape(catalog)) == false)

            // Every metric the shipped rules read is in the fraud service's scrape, and the straggler counter names
            // the method that leaves stragglers.
            #expect(Set(rules.flatMap(\.metricNames)) == ["drpc_server_stragglers", "drpc_server_stragglers_total", "drpc_server_handlers_in_flight"])
            for rule in rules {
                for metric in rule.metricNames {
                    #expect(!during.samples(metric).isEmpty, "\(rule.name) reads \(metric), which the scrape lacks")
                }
            }
            #expect(during.sum("drpc_server_stragglers_total", ["method": "demo.Fraud/Check"]) == 1)

            // When the handler finally returns, the gauge goes back to 0 and the rule stops firing.
            let cleared = try await DemoTestSupport.eventually(timeout: .seconds(20)) {
                stragglers.fires(on: try await DemoTestSupport.scrape(fraud)) == false
            }
            #expect(cleared)
        }
    }

    @Test("DeadlineRPCStragglerRate fires for the fraud service's method while stragglers accumulate, not for a cooperative service")
    func stragglerRateAlertFires() async throws {
        let rules = try AlertRule.load(DemoTestSupport.root.appendingPathComponent("docs/alerts/deadlinerpc.rules.yml"))
        let rateRule = try #require(rules.first { $0.name == "DeadlineRPCStragglerRate" })
        let form = try #require(rateRule.rateThreshold, "the rule is no longer `sum by (…) (rate(METRIC[RANGE])) > N`: \(rateRule.expression)")
        #expect(form.metric == "drpc_server_stragglers_total")
        #expect(form.groupBy == ["instance", "method"])

        let settings = DemoTestSupport.settings(.enabled)
        try await InProcessTopology.with([settings]) { endpoints in
            let topology = endpoints[0]
            let fraud = try #require(topology.http[.fraud])
            let catalog = try #require(topology.http[.catalog])

            // The first scrape of each service: the straggler counters exist from the start, at 0.
            let fraudBefore = try await DemoTestSupport.scrape(fraud)
            let fraudFirst = ContinuousClock.now
            let catalogBefore = try await DemoTestSupport.scrape(catalog)
            let catalogFirst = ContinuousClock.now
            #expect(fraudBefore.sum(form.metric, ["method": "demo.Fraud/Check"]) == 0)
            #expect(catalogBefore.sum(form.metric, ["method": "demo.Catalog/Product"]) == 0)

            // Three orders that need the fraud check at once: each is a 504 at the 1 s budget, and each leaves a
            // fraud handler running on (3.5 s of work), counted as a straggler at the 1 s grace period. The
            // catalog serves all three and stops with each.
            let path = DemoTestSupport.scenario("straggler", settings).path
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await HTTPFetch.get(topology.front, path, timeout: .seconds(30)).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == [504, 504, 504])

            // The second scrape, once all three are counted: the interval between the scrapes is a few seconds,
            // so the rate is near 1/s (the rule's threshold is 0.1/s; it would hold for any interval under 30 s).
            var fraudAfter = fraudBefore
            let counted = try await DemoTestSupport.eventually(timeout: .seconds(20)) {
                fraudAfter = try await DemoTestSupport.scrape(fraud)
                return fraudAfter.sum(form.metric, ["method": "demo.Fraud/Check"]) == 3
            }
            let fraudSecond = ContinuousClock.now
            let catalogAfter = try await DemoTestSupport.scrape(catalog)
            let catalogSecond = ContinuousClock.now
            #expect(counted, "the fraud service counted \(fraudAfter.sum(form.metric) ?? 0) stragglers, not 3")
            #expect((catalogAfter.sum("drpc_server_calls_started_total", ["method": "demo.Catalog/Product"]) ?? 0) == 3)

            let fraudSeconds = (fraudSecond - fraudFirst) / .seconds(1)
            let firing = try #require(rateRule.firingGroups(from: fraudBefore, to: fraudAfter, seconds: fraudSeconds))
            #expect(Set(firing.keys) == [["method": "demo.Fraud/Check"]], "over \(fraudSeconds) s: \(firing)")
            // Its rate: three stragglers over the interval between the scrapes.
            #expect(firing[["method": "demo.Fraud/Check"]] == 3 / fraudSeconds)

            let catalogSeconds = (catalogSecond - catalogFirst) / .seconds(1)
            #expect(rateRule.firingGroups(from: catalogBefore, to: catalogAfter, seconds: catalogSeconds) == [:])
        }
    }

    @Test("The other metrics an operator scrapes: calls by method and status, in-flight, shed (server and client), clamped deadlines")
    func operatorMetrics() async throws {
        let settings = DemoTestSupport.settings(.enabled)
        try await InProcessTopology.with([settings]) { endpoints in
            let topology = endpoints[0]
            let runner = ScenarioRunner(endpoints: topology)
            _ = try await runner.run(DemoTestSupport.scenario("all-fast", settings))
            _ = try await runner.run(DemoTestSupport.scenario("tiny-budget", settings))

            let gateway = try await DemoTestSupport.scrape(try #require(topology.http[.gateway]))
            #expect(gateway.sum("drpc_server_calls_finished_total", ["method": "demo.Gateway/Checkout", "code": "OK"]) == 1)
            #expect(gateway.sum("drpc_server_calls_shed_total", ["method": "demo.Gateway/Checkout"]) == 1)
            #expect(gateway.sum("drpc_server_handlers_in_flight") == 0)
            // The gateway's 2 s safety-net timeout was clamped to the inherited budget on each of its calls.
            #expect(gateway.sum("drpc_client_deadline_clamped_total", ["method": "demo.Catalog/Product"]) == 1)

            let front = try await DemoTestSupport.scrape(topology.front)
            #expect(front.sum("demo_http_requests_total", ["code": "200"]) == 1)
            #expect(front.sum("demo_http_requests_total", ["code": "504"]) == 1)

            // A request that asks for no budget at all: the front door's client sheds its call to the gateway
            // without sending it, counted under the runtime's own name in the front door's registry.
            let spent = try await HTTPFetch.get(topology.front, "/checkout?item=book", headers: [("X-Budget-Ms", "0")], timeout: .seconds(30))
            #expect(spent.status == 504)
            let shed = try await DemoTestSupport.scrape(topology.front)
            #expect(shed.sum("drpc_client_calls_shed_total", ["method": "demo.Gateway/Checkout"]) == 1)
            #expect(shed.sum("demo_http_requests_total", ["code": "504"]) == 2)
            let gatewayAfter = try await DemoTestSupport.scrape(try #require(topology.http[.gateway]))
            #expect(gatewayAfter.sum("drpc_server_calls_started_total", ["method": "demo.Gateway/Checkout"])
                == gateway.sum("drpc_server_calls_started_total", ["method": "demo.Gateway/Checkout"]))
        }
    }
}
