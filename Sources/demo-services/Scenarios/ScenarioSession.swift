import DemoTopology

/// Runs every scenario against each topology (propagation on, then off, scenario by scenario so each pair is
/// side by side) and prints the table.
enum ScenarioSession {
    /// Runs `scenarios` against every topology of `endpoints`; prints progress lines when `progress` is set.
    static func run(
        _ scenarios: [Scenario],
        on endpoints: [TopologyEndpoints],
        progress: (@Sendable (String) -> Void)? = nil
    ) async throws -> [(scenario: Scenario, results: [ScenarioResult])] {
        var rows: [(scenario: Scenario, results: [ScenarioResult])] = []
        for scenario in scenarios {
            var results: [ScenarioResult] = []
            for topology in endpoints {
                progress?("running \(scenario.id) with propagation \(topology.propagation)…")
                results.append(try await ScenarioRunner(endpoints: topology).run(scenario))
            }
            rows.append((scenario, results))
        }
        return rows
    }
}
