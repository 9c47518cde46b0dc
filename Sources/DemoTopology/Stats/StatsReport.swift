import DeadlineRPC

/// The JSON a service's `/stats?request=ID` answers: its server counters, its records of one request, and its
/// process's memory and clock. The scenario runner reads it to say, per hop, whether the handler ran, was shed or
/// cancelled, and for how long; rpcbench's `--target demo` reads the counters and the process figures.
package struct StatsReport: Codable, Sendable {
    /// A server's counters (a Codable copy of `ServerStats`).
    package struct Counters: Codable, Sendable, Hashable {
        /// Calls accepted.
        package var callsStarted: Int
        /// Calls ended (answered, failed, cancelled or shed).
        package var callsFinished: Int
        /// Handler tasks running now, health watches left out (they last as long as their connection).
        package var handlersInFlight: Int
        /// Handlers running past the straggler grace period now.
        package var stragglersNow: Int
        /// Handlers that ever became stragglers.
        package var stragglersTotal: Int
        /// Calls answered without running the handler (budget spent or below the minimum).
        package var shedCalls: Int
        /// Calls refused at the stream limit.
        package var refusedCalls: Int
        /// Connections open now.
        package var connections: Int

        /// Copies the runtime's counters, leaving `excludingHandlers` long-lived handlers (health watches) out of
        /// ``handlersInFlight``.
        package init(_ stats: ServerStats, excludingHandlers: Int = 0) {
            self.callsStarted = stats.callsStarted
            self.handlersInFlight = max(0, stats.handlersInFlight - excludingHandlers)
            self.stragglersNow = stats.stragglersNow
            self.stragglersTotal = stats.stragglersTotal
            self.shedCalls = stats.shedCalls
            self.callsFinished = stats.callsFinished
            self.refusedCalls = stats.refusedCalls
            self.connections = stats.connections
        }
    }

    /// The reporting service.
    package var service: ServiceName
    /// `on` or `off`.
    package var propagation: String
    /// The RPC server's counters (nil for the front door, which serves HTTP).
    package var counters: Counters?
    /// The records of the request asked about.
    package var records: [HopRecord]
    /// The serving process's memory and clock (`/stats?trim=1` trims the allocator first).
    package var process: ProcessFigures

    /// Creates a report.
    package init(service: ServiceName, propagation: String, counters: Counters?, records: [HopRecord], process: ProcessFigures) {
        self.service = service
        self.propagation = propagation
        self.counters = counters
        self.records = records
        self.process = process
    }
}
