/// What a load run did besides the calls' own figures.
public struct LoadRunSummary: Sendable {
    /// Calls sent.
    public var calls: Int
    /// How late the pacer released each call after its intended time (open loop only; charged to the calls).
    public var pacerLateness: LatencyHistogram
    /// When the run started and ended (``BenchClock``).
    public var startedAt: Int64
    /// When the last call ended.
    public var endedAt: Int64
}
