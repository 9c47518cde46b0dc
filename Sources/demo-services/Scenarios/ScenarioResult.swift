import DemoTopology

/// The numbers of one scenario run against one topology: the HTTP answer and every hop's ``HopResult``.
struct ScenarioResult: Sendable {
    /// The scenario.
    var scenario: Scenario
    /// `on` or `off`.
    var propagation: String
    /// The request id sent.
    var requestID: String
    /// The front door's HTTP status.
    var httpStatus: Int
    /// Time from sending the request to the whole answer.
    var latency: Duration
    /// Parts served by a fallback (`X-Degraded`).
    var degraded: [String]
    /// The budget the front door applied (`X-Budget-Ms`).
    var budgetMs: Int
    /// Each RPC service's result (empty when the services' stats endpoints are unknown).
    var hops: [ServiceName: HopResult]
    /// Time from the HTTP answer until no handler was running anywhere.
    var settledAfterAnswer: Duration?

    /// Total time handlers kept running after the budget was gone, over all hops.
    var totalRanPastBudget: Duration {
        self.hops.values.compactMap(\.ranPastBudget).reduce(.zero, +)
    }

    /// The number of hops that kept running after the budget was gone.
    var hopsRanPastBudget: Int { self.hops.values.filter { $0.ranPastBudget != nil }.count }

    /// Stragglers over all hops.
    var stragglers: Int { self.hops.values.map(\.stragglers).reduce(0, +) }

    /// `200 in 63 ms`, `504 in 502 ms`, `200 in 160 ms, degraded: recommendations`.
    var httpCell: String {
        var text = "\(self.httpStatus) in \(self.latency.wholeMilliseconds) ms"
        if !self.degraded.isEmpty { text += ", degraded: \(self.degraded.joined(separator: ","))" }
        return text
    }
}
