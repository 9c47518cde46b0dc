import DeadlineRPC

/// The JSON a service's `/stats?request=ID` answers: its server counters and its records of one request. The
/// scenario runner reads it to say, per hop, whether the handler ran, was shed or cancelled, and for how long.
struct StatsReport: Codable, Sendable {
    /// A server's counters (a Codable copy of `ServerStats`).
    struct Counters: Codable, Sendable, Hashable {
        /// Calls accepted.
        var callsStarted: Int
        /// Handler tasks running now.
        var handlersInFlight: Int
        /// Handlers running past the straggler grace period now.
        var stragglersNow: Int
        /// Handlers that ever became stragglers.
        var stragglersTotal: Int
        /// Calls answered without running the handler (budget spent or below the minimum).
        var shedCalls: Int

        /// Copies the runtime's counters.
        init(_ stats: ServerStats) {
            self.callsStarted = stats.callsStarted
            self.handlersInFlight = stats.handlersInFlight
            self.stragglersNow = stats.stragglersNow
            self.stragglersTotal = stats.stragglersTotal
            self.shedCalls = stats.shedCalls
        }
    }

    /// The reporting service.
    var service: ServiceName
    /// `on` or `off`.
    var propagation: String
    /// The RPC server's counters (nil for the front door, which serves HTTP).
    var counters: Counters?
    /// The records of the request asked about.
    var records: [HopRecord]
}
