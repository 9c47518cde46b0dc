import Histogram

/// An HdrHistogram of durations in nanoseconds (3 significant digits, 64 ns to 120 s), the one type every latency
/// in the bench is recorded in.
public struct LatencyHistogram: Sendable {
    /// The largest value tracked; larger ones are recorded as this.
    public static let highestTrackableNanoseconds: UInt64 = 120_000_000_000
    /// The underlying histogram.
    public private(set) var histogram: Histogram<UInt32>

    /// Creates an empty histogram (its storage, about 90 KiB, is allocated now).
    public init() {
        self.histogram = Histogram<UInt32>(
            lowestDiscernibleValue: 100,
            highestTrackableValue: Self.highestTrackableNanoseconds,
            numberOfSignificantValueDigits: .three
        )
    }

    /// Records one duration; negative values count as 0, values beyond the range as the largest tracked value.
    public mutating func record(nanoseconds: Int64) {
        let value = UInt64(clamping: max(0, nanoseconds))
        _ = self.histogram.record(min(value, Self.highestTrackableNanoseconds))
    }

    /// Adds every value of `other` (HdrHistogram's lossless merge).
    public mutating func merge(_ other: LatencyHistogram) {
        self.histogram.add(other.histogram)
    }

    /// Merges a collection of histograms into one.
    public static func merged(_ histograms: some Sequence<LatencyHistogram>) -> LatencyHistogram {
        var total = LatencyHistogram()
        for histogram in histograms { total.merge(histogram) }
        return total
    }

    /// The number of values recorded.
    public var count: Int { Int(self.histogram.totalCount) }

    /// The value at `percentile` (0...100), in nanoseconds; 0 when empty.
    public func nanoseconds(atPercentile percentile: Double) -> UInt64 {
        self.count == 0 ? 0 : self.histogram.valueAtPercentile(percentile)
    }

    /// min, p50, p90, p99, p99.9, max and mean, in microseconds.
    public var summary: LatencySummary {
        guard self.count > 0 else { return LatencySummary() }
        func us(_ nanoseconds: UInt64) -> Double { LatencySummary.round(Double(nanoseconds) / 1_000) }
        return LatencySummary(
            count: self.count,
            min: us(self.histogram.min),
            p50: us(self.histogram.valueAtPercentile(50)),
            p90: us(self.histogram.valueAtPercentile(90)),
            p99: us(self.histogram.valueAtPercentile(99)),
            p999: us(self.histogram.valueAtPercentile(99.9)),
            max: us(self.histogram.max),
            mean: LatencySummary.round(self.histogram.mean / 1_000)
        )
    }

    /// The percentile distribution as points for a plot: HdrHistogram's percentile iteration (5 ticks per half
    /// distance), up to the maximum, which is placed at 1 − 1/count — the highest percentile the sample
    /// resolves — rather than at 100 %.
    public var percentileCurve: [CurvePoint] {
        guard self.count > 0 else { return [] }
        let resolvable = 100 * (1 - 1 / Double(self.count))
        var points: [CurvePoint] = []
        for step in self.histogram.percentiles(ticksPerHalfDistance: 5) {
            var percentile = min(step.percentileLevelIteratedTo, 100)
            if percentile >= 100 { percentile = max(resolvable, points.last?.percentile ?? 0) }
            let point = CurvePoint(
                percentile: LatencySummary.round(percentile, digits: 6),
                microseconds: LatencySummary.round(Double(self.histogram.highestEquivalentForValue(step.value)) / 1_000)
            )
            if points.last != point { points.append(point) }
            if step.percentileLevelIteratedTo >= 100 { break }
        }
        return points
    }
}
