import ArgumentParser
import DemoTopology

/// The options of the commands that start topologies and run scenarios: which topologies, which scenarios.
struct ScenarioSelection: ParsableArguments {
    @Option(help: "Which topologies to run: on, off or both (side by side).")
    var propagation: PropagationChoice = .both

    @Option(
        name: .customLong("only"),
        help: "Run only these scenarios (repeatable): all-fast, budget-gone, fallback, straggler, tiny-budget."
    )
    var only: [String] = []

    /// One settings value per selected topology, in column order.
    func settings(_ topology: TopologyOptions) throws -> [TopologySettings] {
        try self.propagation.values.map { try topology.settings(propagation: $0) }
    }

    /// The selected scenarios, with numbers from `settings`.
    func scenarios(_ settings: TopologySettings) throws -> [Scenario] {
        let all = Scenario.all(settings)
        if let unknown = self.only.first(where: { id in !all.contains { $0.id == id } }) {
            throw ValidationError("No scenario '\(unknown)'; there are \(all.map(\.id).joined(separator: ", ")).")
        }
        return all.filter { self.only.isEmpty || self.only.contains($0.id) }
    }
}
