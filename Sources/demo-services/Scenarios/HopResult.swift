import DemoTopology

/// What one service did for one scenario request: whether its handler ran, was shed or cancelled, and how long
/// it kept running after the budget was gone.
struct HopResult: Sendable, Hashable {
    /// The service.
    var service: ServiceName
    /// Handler runs for the request (0 when it was not called or was shed).
    var runs: Int = 0
    /// Calls the service's server shed (answered without running the handler) during the request.
    var shed: Int = 0
    /// How the (last) run ended, or nil when it did not run or never ended within the wait.
    var outcome: HopRecord.Outcome?
    /// The cancel cause or failure status.
    var detail: String?
    /// How long the handler kept running after the budget was gone — the request's, or its own tighter one
    /// (a fallback's slice) — or nil when it ended in time.
    var ranPastBudget: Duration?
    /// Handlers of this service that became stragglers during the request.
    var stragglers: Int = 0
    /// Whether a handler was still running when the runner stopped waiting.
    var stillRunning: Bool = false
    /// How many replicas the service was started with (1 unless `launch --hosts` runs several).
    var replicaCount: Int = 1
    /// Which replicas ran a handler for the request (1-based), when the service has several.
    var replicas: [Int] = []

    /// Whether the handler ran at all.
    var ran: Bool { self.runs > 0 }

    /// The table cell: `ok`, `cancelled (deadline exceeded) +2 ms`, `shed`, `—` (not called)…, and which replica
    /// ran it (`[r2]`) when the service has several.
    var cell: String {
        var text: String
        if self.stillRunning {
            text = "still running"
        } else if let outcome = self.outcome {
            switch outcome {
            case .ok: text = "ok"
            case .cancelled: text = "cancelled (\(self.detail ?? "?"))"
            case .failed: text = "failed (\(self.detail ?? "?"))"
            }
        } else if self.shed > 0 {
            text = "shed"
        } else {
            text = "—"
        }
        if let past = self.ranPastBudget { text += " +\(past.wholeMilliseconds) ms" }
        if self.stragglers > 0 { text += " STRAGGLER" }
        if self.replicaCount > 1 && !self.replicas.isEmpty {
            text += " [" + self.replicas.map { "r\($0)" }.joined(separator: ",") + "]"
        }
        return text
    }
}
