import DeadlineRPC
import Logging

/// Everything that shapes the demo's behaviour, shared by every service of one topology: latencies, budgets and
/// whether deadlines propagate. The `launch` command hands it to each child process as ``arguments``.
package struct TopologySettings: Sendable, Hashable {
    /// Each service's simulated work time.
    package var latencies: [ServiceName: Latency] = Dictionary(uniqueKeysWithValues: ServiceName.allCases.map { ($0, $0.defaultLatency) })
    /// How long recommendations take for a new user (a cold cache): longer than the gateway waits for them.
    package var coldRecommendations = Latency(fixed: .milliseconds(900), jitter: .milliseconds(50))
    /// The front door's budget per request; a request header can ask for less, never more.
    package var budget: Duration = .milliseconds(500)
    /// The most of its budget the gateway spends waiting for recommendations before serving the fallback.
    package var recommendationsBudget: Duration = .milliseconds(150)
    /// The gateway does not start a checkout with less budget than this (the runtime sheds the call): a checkout
    /// may wait up to ``recommendationsBudget`` for recommendations alone.
    package var gatewayMinimumBudget: Duration = .milliseconds(200)
    /// Each service's own timeout on its outbound calls, as teams write them "to be safe". With propagation on,
    /// the inherited budget is shorter, so the runtime clamps it (and counts it); with propagation off it is all
    /// that bounds a call.
    package var safetyNetTimeout: Duration = .seconds(2)
    /// How long after its call ended a handler may run before it counts as a straggler.
    package var stragglerGracePeriod: Duration = .milliseconds(250)
    /// Whether services' outbound calls inherit the deadline and cancellation of the call they serve.
    package var propagation: RPCClient.Propagation = .enabled
    /// The services' log level. In-process only (not in ``arguments``): rpcbench raises it to keep a storm's
    /// hundreds of straggler warnings off its progress line.
    package var logLevel: Logger.Level = .warning

    /// The defaults described in the README.
    package init() {}

    /// The latency of `service`.
    package func latency(_ service: ServiceName) -> Latency {
        self.latencies[service] ?? service.defaultLatency
    }

    /// Applies one `--latency NAME=MS[:JITTER]` value (`recommendations-cold` sets the new-user latency).
    package mutating func applyLatency(_ text: String) throws -> Void {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let latency = Latency(parsing: parts[1]) else {
            throw SettingsError("'\(text)' is not NAME=MS or NAME=MS:JITTER, e.g. warehouse=800:50.")
        }
        if parts[0] == "recommendations-cold" {
            self.coldRecommendations = latency
        } else if let service = ServiceName(rawValue: parts[0]) {
            self.latencies[service] = latency
        } else {
            throw SettingsError("'\(parts[0])' is not a service (\(ServiceName.allCases.map(\.rawValue).joined(separator: ", ")), or recommendations-cold).")
        }
    }

    /// The command-line arguments that recreate these settings in a `serve` process.
    package var arguments: [String] {
        var arguments: [String] = []
        for service in ServiceName.allCases {
            arguments += ["--latency", "\(service.rawValue)=\(self.latency(service).argument)"]
        }
        arguments += ["--latency", "recommendations-cold=\(self.coldRecommendations.argument)"]
        arguments += ["--budget-ms", "\(self.budget.wholeMilliseconds)"]
        arguments += ["--fallback-budget-ms", "\(self.recommendationsBudget.wholeMilliseconds)"]
        arguments += ["--safety-net-ms", "\(self.safetyNetTimeout.wholeMilliseconds)"]
        arguments += ["--straggler-grace-ms", "\(self.stragglerGracePeriod.wholeMilliseconds)"]
        arguments += ["--propagation", self.propagation == .enabled ? "on" : "off"]
        return arguments
    }

    /// `on` or `off`, for tables.
    package var propagationLabel: String { self.propagation == .enabled ? "on" : "off" }
}
