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

    @Test("The front door reads path and query")
    func httpQuery() {
        let request = HTTPRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/checkout?item=piano&qty=20&flag"))
        #expect(request.path == "/checkout")
        #expect(request.query == ["item": "piano", "qty": "20", "flag": ""])
    }
}
