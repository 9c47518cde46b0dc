import ArgumentParser
import DemoTopology

/// `demo-services scenarios --front HOST:PORT`: the scripted scenarios against a topology that is already
/// running (started by `serve` processes, for example). Per-hop columns need each service's HTTP endpoint
/// (`--stats name=host:port`); without them only the HTTP outcomes are printed.
struct ScenariosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenarios",
        abstract: "Run the scripted scenarios against a running front door."
    )

    @Option(help: "The front door's HTTP address.")
    var front: ServiceAddress

    @Option(help: ArgumentHelp("A service's HTTP (metrics) address, for per-hop results (repeatable).", valueName: "name=host:port"))
    var stats: [NamedEndpoint] = []

    @Option(help: "A second front door to run beside the first (e.g. a topology with propagation off).")
    var offFront: ServiceAddress?

    @Option(help: ArgumentHelp("The second topology's HTTP addresses (repeatable).", valueName: "name=host:port"))
    var offStats: [NamedEndpoint] = []

    @Option(name: .customLong("only"), help: "Run only these scenarios (repeatable).")
    var only: [String] = []

    @OptionGroup var topology: TopologyOptions

    func run() async throws {
        func endpoints(_ front: ServiceAddress, _ stats: [NamedEndpoint], label: String) -> TopologyEndpoints {
            var http = Dictionary(stats.map { ($0.service, $0.endpoint) }, uniquingKeysWith: { $1 })
            if !http.isEmpty { http[.frontdoor] = front }
            return TopologyEndpoints(propagation: label, front: front, http: http)
        }
        var all = [endpoints(self.front, self.stats, label: self.offFront == nil ? "as deployed" : "on")]
        if let offFront = self.offFront { all.append(endpoints(offFront, self.offStats, label: "off")) }
        let settings = try self.topology.settings()
        let scenarios = Scenario.all(settings).filter { self.only.isEmpty || self.only.contains($0.id) }
        let rows = try await ScenarioSession.run(scenarios, on: all, progress: Console.progress)
        Console.output(ScenarioTable.render(rows, settings: settings))
    }
}
