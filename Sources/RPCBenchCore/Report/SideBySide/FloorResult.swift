/// One run of a reference harness from `../shared/peers` (`peer-nio`, the raw NIO floor), as its JSON line gives
/// it, plus the peak RSS the calling script measured: victims' figures only, with no storm beside them.
public struct FloorResult: Sendable, Codable, Hashable {
    /// `nio` for the floor.
    public var stack: String
    /// `open` or `closed`.
    public var mode: String
    /// Open loop: calls per second.
    public var rate: Double
    /// Calls made.
    public var calls: Int
    /// Calls that failed.
    public var errors: Int
    /// Successful calls per second.
    public var qps: Double
    /// Latency percentiles and maximum, µs.
    public var p50: Double
    /// p90, µs.
    public var p90: Double
    /// p99, µs.
    public var p99: Double
    /// p99.9, µs.
    public var p999: Double
    /// Maximum, µs.
    public var max: Double
    /// The process's peak RSS in KiB (from `/usr/bin/time`), when measured.
    public var rssKilobytes: Int?

    /// The JSON line's field names.
    enum CodingKeys: String, CodingKey {
        case stack, mode, rate, calls, errors, qps
        case p50 = "p50_us"
        case p90 = "p90_us"
        case p99 = "p99_us"
        case p999 = "p999_us"
        case max = "max_us"
        case rssKilobytes = "rss_kb"
    }

    /// Creates a result.
    public init(
        stack: String, mode: String, rate: Double, calls: Int, errors: Int, qps: Double,
        p50: Double, p90: Double, p99: Double, p999: Double, max: Double, rssKilobytes: Int? = nil
    ) {
        self.stack = stack
        self.mode = mode
        self.rate = rate
        self.calls = calls
        self.errors = errors
        self.qps = qps
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.rssKilobytes = rssKilobytes
    }

    /// The figures as a latency summary (no min or mean in the line).
    public var summary: LatencySummary {
        LatencySummary(count: self.calls - self.errors, p50: self.p50, p90: self.p90, p99: self.p99, p999: self.p999, max: self.max)
    }

    /// A coarse percentile curve from the five figures, for the combined plot.
    public var curve: [CurvePoint] {
        [
            CurvePoint(percentile: 50, microseconds: self.p50),
            CurvePoint(percentile: 90, microseconds: self.p90),
            CurvePoint(percentile: 99, microseconds: self.p99),
            CurvePoint(percentile: 99.9, microseconds: self.p999),
            CurvePoint(percentile: 100 * (1 - 1 / Double(Swift.max(2, self.calls))), microseconds: self.max),
        ]
    }
}
