import DeadlineRPC
import NIOHTTP1
import Testing

@testable import demo_services
import DemoTopology

/// The demo's small parsers: latencies, settings passed to child processes, HTTP queries, the scenario table.
@Suite("Demo command-line and parsing", .timeLimit(.minutes(5)))
struct CommandLineTests {
    @Test("Latencies parse as ms or ms:jitter and render back")
    func latency() throws {
        #expect(Latency(parsing: "800") == Latency(fixed: .milliseconds(800)))
        #expect(Latency(parsing: "800:50") == Latency(fixed: .milliseconds(800), jitter: .milliseconds(50)))
        #expect(Latency(parsing: "-1") == nil)
        #expect(Latency(parsing: "1:2:3") == nil)
        #expect(Latency(parsing: "800:50")?.argument == "800:50")
        let sample = Latency(fixed: .milliseconds(10), jitter: .milliseconds(5)).sample()
        #expect(sample >= .milliseconds(10) && sample <= .milliseconds(15))
    }

    @Test("A child process's arguments recreate the launcher's settings")
    func settingsRoundTrip() throws {
        var settings = TopologySettings()
        try settings.applyLatency("warehouse=1200:10")
        try settings.applyLatency("recommendations-cold=900")
        settings.budget = .milliseconds(300)
        settings.propagation = .disabledToReproduceLeaks
        let command = try ServeCommand.parse(["gateway"] + settings.arguments)
        let parsed = try command.topology.settings(propagation: command.propagation)
        #expect(parsed == settings)
        #expect(throws: SettingsError.self) { try settings.applyLatency("nosuch=1") }
    }

    @Test("launch prints the rpcbench command for its topologies: the one with propagation on as the target")
    func rpcbenchCommandLine() {
        func topology(_ propagation: String, _ base: Int) -> TopologyEndpoints {
            let http = Dictionary(uniqueKeysWithValues: ServiceName.allCases.enumerated().map { ($1, ServiceAddress(host: "127.0.0.1", port: base + $0)) })
            return TopologyEndpoints(propagation: propagation, front: http[.frontdoor]!, http: http, rpc: [.gateway: ServiceAddress(host: "127.0.0.1", port: base + 100)])
        }
        let both = RPCBenchCommandLine.render([topology("on", 1_000), topology("off", 2_000)])
        #expect(both?.contains("--target demo=127.0.0.1:1100 --demo-stats gateway=127.0.0.1:1001 --demo-stats catalog=127.0.0.1:1002") == true)
        #expect(both?.contains("--demo-off-target 127.0.0.1:2100 --demo-off-stats gateway=127.0.0.1:2001") == true)
        #expect(both?.contains("frontdoor") == false)
        #expect(RPCBenchCommandLine.render([topology("off", 2_000)]) == nil)
    }

    @Test("The front door reads path and query")
    func httpQuery() {
        let request = HTTPRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/checkout?item=piano&qty=20&flag"))
        #expect(request.path == "/checkout")
        #expect(request.query == ["item": "piano", "qty": "20", "flag": ""])
    }
}
