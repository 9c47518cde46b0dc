import DemoTopology

/// Runs every scenario against each topology (propagation on, then off, scenario by scenario so each pair is
/// side by side) and prints the table.
enum ScenarioSession {
    /// One scenario's results, one per topology in column order.
    typealias Row = (scenario: Scenario, results: [ScenarioResult])

    /// Runs `scenarios` against every topology of `endpoints`; prints progress lines when `progress` is set.
    static func run(
        _ scenarios: [Scenario],
        on endpoints: [TopologyEndpoints],
        progress: (@Sendable (String) -> Void)? = nil
    ) async throws -> [Row] {
        try await Self.run(scenarios, on: endpoints, progress: progress) { _, endpoints in endpoints }
    }

    /// Runs `scenarios` as ``run(_:on:progress:)`` does, calling `interlude` before each scenario (with its index
    /// and the topologies' endpoints so far): what it returns is where the next scenarios go (`launch --hosts`
    /// kills and drains replicas there, and leaves them out of the endpoints).
    static func run(
        _ scenarios: [Scenario],
        on endpoints: [TopologyEndpoints],
        progress: (@Sendable (String) -> Void)? = nil,
        interlude: (_ index: Int, _ endpoints: [TopologyEndpoints]) async throws -> [TopologyEndpoints]
    ) async throws -> [Row] {
        var rows: [Row] = []
        var endpoints = endpoints
        for (index, scenario) in scenarios.enumerated() {
            endpoints = try await interlude(index, endpoints)
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
