import DeadlineRPC
import Histogram
import Synchronization

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

/// One point of a percentile curve.
public struct CurvePoint: Sendable, Hashable, Codable {
    /// Percentile, 0...100.
    public var percentile: Double
    /// Latency at that percentile, µs.
    public var microseconds: Double

    /// Creates a point.
    public init(percentile: Double, microseconds: Double) {
        self.percentile = percentile
        self.microseconds = microseconds
    }
}

/// How a call ended, as the bench counts it.
public enum CallOutcome: Sendable, Hashable {
    /// It succeeded.
    case ok
    /// It failed with this status code (its name, e.g. `cancelled`), or `other` for a non-RPC error.
    case failed(String)

    /// Runs `call` and classifies how it ended.
    public static func of(_ call: () async throws -> Void) async -> CallOutcome {
        do {
            try await call()
            return .ok
        } catch let error as RPCError {
            return .failed("\(error.code)")
        } catch {
            return .failed("other")
        }
    }

    /// `ok` or the code's name.
    public var code: String {
        switch self {
        case .ok: return "ok"
        case .failed(let code): return code
        }
    }
}

/// Latencies and outcomes of one stream of calls, shared by its caller tasks (a lock around an HdrHistogram, as
/// nio-transport's benchmark client does).
public final class LatencyRecorder: Sendable {
    private struct State {
        var histogram = LatencyHistogram()
        var outcomes: [String: Int] = [:]
        var succeeded = 0
        var failed = 0
        var lastCompletion: Int64 = 0
    }
    private let state: Mutex<State>
    private let live: LiveCounters?

    /// Creates an empty recorder; `live`, when given, is bumped on every call for the progress line.
    public init(live: LiveCounters? = nil) {
        self.state = Mutex(State())
        self.live = live
    }

    /// Records one call: its latency (from its intended start, in an open loop) and outcome.
    public func record(latencyNanoseconds: Int64, outcome: CallOutcome, completedAt: Int64) {
        self.state.withLock { state in
            switch outcome {
            case .ok:
                state.succeeded += 1
                state.histogram.record(nanoseconds: latencyNanoseconds)
            case .failed(let code):
                state.failed += 1
                state.outcomes[code, default: 0] += 1
            }
            state.lastCompletion = max(state.lastCompletion, completedAt)
        }
        self.live?.victimCompleted(failed: outcome != .ok)
    }

    /// The latency histogram of successful calls.
    public var histogram: LatencyHistogram { self.state.withLock { $0.histogram } }
    /// Failed calls by status code name.
    public var errorsByCode: [String: Int] { self.state.withLock { $0.outcomes } }
    /// Successful calls.
    public var succeeded: Int { self.state.withLock { $0.succeeded } }
    /// Failed calls.
    public var failed: Int { self.state.withLock { $0.failed } }
    /// The last completion instant (``BenchClock``), or 0.
    public var lastCompletion: Int64 { self.state.withLock { $0.lastCompletion } }
}

/// Counters the progress line reads while a phase runs.
public final class LiveCounters: Sendable {
    private let victims = Atomic<Int>(0)
    private let victimErrors = Atomic<Int>(0)
    private let storm = Atomic<Int>(0)

    /// Creates zeroed counters.
    public init() {}

    /// One victim call ended.
    public func victimCompleted(failed: Bool) {
        self.victims.add(1, ordering: .relaxed)
        if failed { self.victimErrors.add(1, ordering: .relaxed) }
    }

    /// One storm call ended.
    public func stormCompleted() {
        self.storm.add(1, ordering: .relaxed)
    }

    /// Resets every counter (at the start of a phase).
    public func reset() {
        self.victims.store(0, ordering: .relaxed)
        self.victimErrors.store(0, ordering: .relaxed)
        self.storm.store(0, ordering: .relaxed)
    }

    /// Victim calls ended so far.
    public var victimCalls: Int { self.victims.load(ordering: .relaxed) }
    /// Victim calls failed so far.
    public var victimFailures: Int { self.victimErrors.load(ordering: .relaxed) }
    /// Storm calls ended so far.
    public var stormCalls: Int { self.storm.load(ordering: .relaxed) }
}
