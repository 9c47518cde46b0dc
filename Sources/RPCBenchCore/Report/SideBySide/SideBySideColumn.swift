/// One stack's headline figures in the side-by-side comparison: from an rpcbench-format report (DeadlineRPC,
/// grpc-swift-2) or from the raw NIO floor's JSON line (victims without a storm; everything else nil).
public struct SideBySideColumn: Sendable, Codable, Hashable {
    /// The column's label: `DeadlineRPC`, `grpc-swift-2`, `raw NIO floor`.
    public var stack: String
    /// Victims without the storm, µs.
    public var victimsCalm: LatencySummary
    /// Victims beside the storm (propagation on), µs; nil when no storm ran.
    public var victimsStorm: LatencySummary?
    /// Storm p99 / calm p99.
    public var p99Ratio: Double?
    /// Victim errors without the storm.
    public var victimErrorsCalm: Int
    /// Victim errors beside the storm.
    public var victimErrorsStorm: Int?
    /// Those errors by status code.
    public var victimErrorsStormByCode: [String: Int]?
    /// Client cancel → handler task cancelled at hop 1, µs.
    public var cancelToTaskFirstHop: LatencySummary?
    /// The same at the last hop (cumulative from the client's cancel), µs.
    public var cancelToTaskLastHop: LatencySummary?
    /// Handlers that outlived a cancel without their task ever being cancelled, by hop (hop 1 first).
    public var cancelNeverReachedTaskByHop: [Int]?
    /// Deadline instant → handler task cancelled at hop 1, µs.
    public var deadlineToTaskFirstHop: LatencySummary?
    /// The same at the last hop, µs.
    public var deadlineToTaskLastHop: LatencySummary?
    /// Handlers that outlived a deadline without their task ever being cancelled, by hop (hop 1 first).
    public var deadlineNeverReachedTaskByHop: [Int]?
    /// Handler time after the call was dead, all hops, ms (storm phase).
    public var wastedWorkMilliseconds: Double?
    /// The part of it beyond hop 1, ms.
    public var wastedBeyondFirstHopMilliseconds: Double?
    /// Worst p99 over the cooperative kinds (cancel, deadline, chain) of wasted time per handler, µs.
    public var wastedPerCooperativeHandlerP99: Double?
    /// Handlers that ran to completion although their call was dead.
    public var ranToCompletionAfterDeath: Int?
    /// Handlers still in flight after the run and the drain.
    public var handlersInFlightAfter: Int?
    /// The serving process's RSS after the run, bytes (trimmed).
    public var serverRSSAfterBytes: Int?
    /// The serving process's peak RSS, bytes.
    public var peakRSSBytes: Int?
    /// Shared connections lost and reopened during the run, when the stack's harness counts them.
    public var sharedConnectionsLost: Int?

    /// The columns of a report, from its storm phase (propagation on) and its calm phase.
    public init(report: BenchReport, label: String? = nil, sharedConnectionsLost: Int? = nil) {
        let calm = report.phase(ReportBuilder.PhaseName.calm)
        let storm = report.phase(ReportBuilder.PhaseName.storm)
        self.stack = label ?? report.configuration.stack
        self.victimsCalm = calm?.victims.latencyMicroseconds ?? LatencySummary()
        self.victimErrorsCalm = calm?.victims.errors ?? 0
        self.handlersInFlightAfter = report.afterRun.handlersInFlight
        self.serverRSSAfterBytes = report.memory.serverRSSAfterBytes
        self.peakRSSBytes = report.memory.serverPeakRSSBytes
        self.sharedConnectionsLost = sharedConnectionsLost ?? (report.sharedConnections.counted ? report.sharedConnections.lost : nil)
        guard let storm else { return }
        let results = storm.stormResults
        self.victimsStorm = storm.victims.latencyMicroseconds
        self.p99Ratio = report.comparison.victimP99Ratio
        self.victimErrorsStorm = storm.victims.errors
        self.victimErrorsStormByCode = storm.victims.errorsByCode
        self.cancelToTaskFirstHop = results.cancelToHandlerTask.firstHop
        self.cancelToTaskLastHop = results.cancelToHandlerTask.lastHop
        self.cancelNeverReachedTaskByHop = results.cancelToHandlerTask.neverCancelledByHop
        self.deadlineToTaskFirstHop = results.deadlineToHandlerTask.firstHop
        self.deadlineToTaskLastHop = results.deadlineToHandlerTask.lastHop
        self.deadlineNeverReachedTaskByHop = results.deadlineToHandlerTask.neverCancelledByHop
        self.wastedWorkMilliseconds = results.wastedWork.totalMilliseconds
        self.wastedBeyondFirstHopMilliseconds = results.wastedWork.beyondFirstHopMilliseconds
        let cooperative: [StormKind] = [.cancel, .deadline, .chainCancel, .chainDeadline]
        self.wastedPerCooperativeHandlerP99 = cooperative.compactMap { results.wastedWork.byKind[$0.rawValue]?.perHandlerMicroseconds.p99 }.max()
        self.ranToCompletionAfterDeath = results.wastedWork.byHop.reduce(0) { $0 + $1.ranToCompletionAfterDeath }
    }

    /// The floor's column: victims only.
    public init(floor: FloorResult, label: String = "raw NIO floor") {
        self.stack = label
        self.victimsCalm = floor.summary
        self.victimErrorsCalm = floor.errors
        self.peakRSSBytes = floor.rssKilobytes.map { $0 * 1_024 }
    }
}
