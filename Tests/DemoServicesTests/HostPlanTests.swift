import DeadlineRPC
import TestSupport
import Testing

@testable import demo_services
import DemoTopology

/// `launch --hosts`'s plan (which replica on which host, names, clocks, arguments, when the kill and the drain
/// come), its `--downstream NAME=dns:///…` parsing, and the report below its table — no host needed.
@Suite("launch --hosts: the plan, the downstream targets, the report", .timeLimit(.minutes(5)))
struct HostPlanTests {
    static let plan = HostPlan(settings: [TopologySettings(), { var off = TopologySettings(); off.propagation = .disabledToReproduceLeaks; return off }()])

    @Test("Every replica on a host of its own; pricing and inventory twice per topology; only the gateways' clocks ahead")
    func placements() {
        let plan = Self.plan
        #expect(plan.hostCount == 2 * (ServiceName.allCases.count + 2))
        #expect(plan.placements.map(\.host) == Array(1...plan.hostCount))
        for topology in 0..<2 {
            for service in ServiceName.allCases {
                let replicas = plan.replicas(of: service, topology: topology)
                #expect(replicas.map(\.replica) == ([.pricing, .inventory].contains(service) ? [1, 2] : [1]), "\(service)")
                #expect(replicas.allSatisfy { $0.replicas == replicas.count && $0.propagation == (topology == 0 ? "on" : "off") })
            }
        }
        let ahead = plan.placements.filter { $0.clockOffset != .zero }
        #expect(ahead.map(\.service) == [.gateway, .gateway])
        #expect(ahead.allSatisfy { $0.clockOffset == .seconds(3 * 86_400) })
        #expect(plan.clockOffsets.count == plan.hostCount)
        #expect(plan.clockOffsets.filter { $0 != .zero }.count == 2)
    }

    @Test("Each replica listens on its host's address, every replica of a service on the same port; downstreams by DNS name")
    func arguments() throws {
        let plan = Self.plan
        let pricing = try #require(plan.replicas(of: .pricing, topology: 0).last)
        let arguments = plan.arguments(pricing, address: "10.9.9.6", selfStop: .seconds(600))
        #expect(Array(arguments.prefix(10)) == ["serve", "pricing", "--host", "10.9.9.6", "--port", "7000", "--metrics-port", "9000", "--duration", "600"])
        #expect(arguments.contains("inventory=dns:///inventory.on.demo.test:7000"))
        let serve = try ServeCommand.parse(Array(arguments.dropFirst()))
        #expect(serve.host == "10.9.9.6")
        #expect(serve.downstream == [NamedTarget(service: .inventory, target: .dns("inventory.on.demo.test", port: 7000))])
        #expect(try serve.topology.settings(propagation: serve.propagation) == TopologySettings())

        let gateway = try #require(plan.replicas(of: .gateway, topology: 1).first)
        let downstreams = try ServeCommand.parse(Array(plan.arguments(gateway, address: "10.9.9.20", selfStop: .seconds(600)).dropFirst())).downstream
        #expect(Set(downstreams.map(\.argument)) == Set(["catalog", "pricing", "recommendations", "fraud"].map { "\($0)=dns:///\($0).off.demo.test:7000" }))
        let front = try #require(plan.replicas(of: .frontdoor, topology: 0).first)
        #expect(plan.arguments(front, address: "10.9.9.11", selfStop: .seconds(600)).prefix(6) == ["serve", "frontdoor", "--host", "10.9.9.11", "--port", "8080"])
    }

    @Test("The kill comes after the first scenario and the drain after the second; fewer scenarios move them forward")
    func schedule() {
        let kill = HostPlan.Event(kind: .kill, service: .pricing, replica: 2)
        let drain = HostPlan.Event(kind: .drain, service: .inventory, replica: 1)
        #expect(HostPlan.schedule(scenarios: 5) == [1: [kill], 2: [drain]])
        #expect(HostPlan.schedule(scenarios: 3) == [1: [kill], 2: [drain]])
        #expect(HostPlan.schedule(scenarios: 2) == [1: [kill, drain]])
        #expect(HostPlan.schedule(scenarios: 1) == [0: [kill, drain]])
    }

    @Test("--downstream takes one address, a list, or dns:///NAME:PORT; anything else is refused")
    func namedTargets() {
        #expect(NamedTarget(argument: "pricing=dns:///pricing.on.demo.test:7000")?.target == .dns("pricing.on.demo.test", port: 7000))
        #expect(NamedTarget(argument: "warehouse=127.0.0.1:7104")?.target == .host("127.0.0.1", port: 7104))
        #expect(NamedTarget(argument: "warehouse=7104")?.target == .host("127.0.0.1", port: 7104))
        #expect(NamedTarget(argument: "pricing=10.0.0.1:7000,10.0.0.2:7000")?.target
            == .endpoints([Endpoint(host: "10.0.0.1", port: 7000), Endpoint(host: "10.0.0.2", port: 7000)]))
        #expect(NamedTarget(argument: "pricing=dns:///pricing.test") == nil)
        #expect(NamedTarget(argument: "nosuch=dns:///pricing.test:7000") == nil)
        #expect(NamedTarget(argument: "pricing") == nil)
        #expect(NamedTarget(argument: "pricing=dns:///pricing.on.demo.test:7000")?.argument == "pricing=dns:///pricing.on.demo.test:7000")
    }

    @Test("The report counts every checkout not answered 200 and every later scenario request failed for a lost replica, and names the hops the budget reached")
    func report() {
        let settings = TopologySettings()
        let allFast = Scenario.all(settings)[0]
        let gone = Scenario.all(settings)[1]
        func result(_ scenario: Scenario, _ propagation: String, status: Int, _ hops: [ServiceName: HopResult]) -> ScenarioResult {
            ScenarioResult(
                scenario: scenario, propagation: propagation, requestID: "r", httpStatus: status, latency: .milliseconds(500),
                degraded: [], budgetMs: 500, hops: hops
            )
        }
        func hop(_ service: ServiceName, _ outcome: HopRecord.Outcome, past: Duration? = nil, replicas: [Int] = []) -> HopResult {
            var hop = HopResult(service: service, runs: 1, outcome: outcome, ranPastBudget: past)
            if !replicas.isEmpty { hop.replicaCount = 2; hop.replicas = replicas }
            return hop
        }
        let goneOn = result(gone, "on", status: 504, [
            .gateway: hop(.gateway, .cancelled, past: .milliseconds(1)),
            .pricing: hop(.pricing, .cancelled, past: .milliseconds(1), replicas: [1]),
            .warehouse: hop(.warehouse, .cancelled),
        ])
        let goneOff = result(gone, "off", status: 504, [
            .gateway: hop(.gateway, .cancelled, past: .milliseconds(400)),
            .pricing: hop(.pricing, .ok, past: .milliseconds(400), replicas: [1]),
            .warehouse: hop(.warehouse, .ok, past: .milliseconds(400)),
        ])
        let lostOff = result(allFast, "off", status: 503, [.pricing: hop(.pricing, .failed, replicas: [1])])
        let rows: [ScenarioSession.Row] = [
            (allFast, [result(allFast, "on", status: 200, [:]), result(allFast, "off", status: 200, [:])]),
            (gone, [goneOn, goneOff]),
            (allFast, [result(allFast, "on", status: 200, [:]), lostOff]),
        ]
        var tally = CheckoutBurst.Tally()
        for status in [200, 200, 503, 0] { tally.record(status) }
        let victim = Self.plan.replicas(of: .pricing, topology: 0)[1]
        let kill = ReplicaEvent(
            event: HostPlan.events[0], victim: victim, address: "10.9.9.6", inFlight: 2, termination: .signalled(9),
            checkouts: tally, retried: 2
        )
        let lines = HostsReport.render(rows, interludes: [(before: 1, events: [kill])], plan: Self.plan)
        #expect(lines.contains("   before scenario 2: pricing r2 SIGKILLed"))
        #expect(lines.contains("      propagation on: pricing r2 at 10.9.9.6 SIGKILLed (signal 9) with 2 calls in flight; 4 checkouts meanwhile: 2 × 200, 1 × no answer, 1 × 503; sent again to the other replica: 2"))
        #expect(lines.contains("   Requests failed because of the kill and the drain: 3 (4 checkouts sent while they happened: 2 not answered 200; 4 scenario requests after them: 1 answered 502/503 or with a hop failed)"))
        #expect(lines.contains("   From scenario 2 on (after the kill), where a budget ran out (from the table):"))
        #expect(lines.contains("      propagation on: cancelled: gateway (clock +3 days), pricing [r1], warehouse; worked on past the budget, never told: none"))
        #expect(lines.contains("      propagation off: cancelled: gateway (clock +3 days); worked on past the budget, never told: pricing [r1], warehouse"))
    }

    @Test("A hop's cell names the replica that ran it when its service has several")
    func replicaCell() {
        var hop = HopResult(service: .pricing, runs: 1, outcome: .cancelled, detail: "deadline exceeded", ranPastBudget: .milliseconds(2))
        #expect(hop.cell == "cancelled (deadline exceeded) +2 ms")
        hop.replicaCount = 2
        hop.replicas = [2]
        #expect(hop.cell == "cancelled (deadline exceeded) +2 ms [r2]")
    }
}
