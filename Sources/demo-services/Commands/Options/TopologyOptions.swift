import ArgumentParser
import DemoTopology

/// The options every command that starts services shares: latencies and budgets.
struct TopologyOptions: ParsableArguments {
    @Option(
        name: .customLong("latency"),
        help: ArgumentHelp(
            "A service's simulated work time in ms, fixed[:jitter] (repeatable), e.g. warehouse=800:50. recommendations-cold sets new users' recommendations.",
            valueName: "name=ms[:jitter]"
        )
    )
    var latencies: [String] = []

    @Option(help: "The front door's budget per request, in ms (X-Budget-Ms can ask for less).")
    var budgetMs: Int = 500

    @Option(help: "The part of its budget the gateway gives recommendations before serving the fallback, in ms.")
    var fallbackBudgetMs: Int = 150

    @Option(help: "Each service's own timeout on its outbound calls, in ms (clamped to the inherited budget when propagation is on).")
    var safetyNetMs: Int = 2_000

    @Option(help: "How long after its call ended a handler may run before it counts as a straggler, in ms.")
    var stragglerGraceMs: Int = 250

    /// The settings these options describe, with `propagation`.
    func settings(propagation: Propagation = .on) throws -> TopologySettings {
        var settings = TopologySettings()
        for latency in self.latencies { try settings.applyLatency(latency) }
        guard self.budgetMs > 0, self.fallbackBudgetMs > 0, self.safetyNetMs > 0, self.stragglerGraceMs > 0 else {
            throw ValidationError("Budgets, timeouts and grace periods must be positive numbers of milliseconds.")
        }
        settings.safetyNetTimeout = .milliseconds(self.safetyNetMs)
        settings.stragglerGracePeriod = .milliseconds(self.stragglerGraceMs)
        settings.budget = .milliseconds(self.budgetMs)
        settings.recommendationsBudget = .milliseconds(self.fallbackBudgetMs)
        settings.propagation = propagation == .on ? .enabled : .disabledToReproduceLeaks
        return settings
    }
}
