import ArgumentParser

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

    /// The settings these options describe, with `propagation`.
    func settings(propagation: Propagation = .on) throws -> TopologySettings {
        var settings = TopologySettings()
        for latency in self.latencies { try settings.applyLatency(latency) }
        guard self.budgetMs > 0, self.fallbackBudgetMs > 0 else {
            throw ValidationError("Budgets must be positive numbers of milliseconds.")
        }
        settings.budget = .milliseconds(self.budgetMs)
        settings.recommendationsBudget = .milliseconds(self.fallbackBudgetMs)
        settings.propagation = propagation == .on ? .enabled : .disabledToReproduceLeaks
        return settings
    }
}

/// Whether services propagate deadlines and cancellation, as written on the command line.
enum Propagation: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Outbound calls inherit the deadline and are cancelled with the handler (DeadlineRPC's default).
    case on
    /// The article's bug, reproduced: outbound calls ignore the call being served.
    case off
}

/// Which topologies to run: `on`, `off`, or `both` (side by side).
enum PropagationChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Propagation on only.
    case on
    /// Propagation off only.
    case off
    /// Both, side by side.
    case both

    /// The propagation settings to run, in column order.
    var values: [Propagation] {
        switch self {
        case .on: return [.on]
        case .off: return [.off]
        case .both: return [.on, .off]
        }
    }
}
