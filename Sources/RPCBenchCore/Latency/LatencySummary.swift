/// The usual percentiles of a latency distribution, in microseconds.
public struct LatencySummary: Sendable, Hashable, Codable {
    /// Values recorded.
    public var count: Int
    /// Smallest value, µs.
    public var min: Double
    /// Median, µs.
    public var p50: Double
    /// 90th percentile, µs.
    public var p90: Double
    /// 99th percentile, µs.
    public var p99: Double
    /// 99.9th percentile, µs.
    public var p999: Double
    /// Largest value, µs.
    public var max: Double
    /// Mean, µs.
    public var mean: Double

    /// Creates a summary (all zero by default: nothing recorded).
    public init(
        count: Int = 0,
        min: Double = 0,
        p50: Double = 0,
        p90: Double = 0,
        p99: Double = 0,
        p999: Double = 0,
        max: Double = 0,
        mean: Double = 0
    ) {
        self.count = count
        self.min = min
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.mean = mean
    }

    /// Rounds to `digits` decimals (3 by default: nanosecond precision in microseconds).
    public static func round(_ value: Double, digits: Int = 3) -> Double {
        guard value.isFinite else { return 0 }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return (value * scale).rounded() / scale
    }
}
