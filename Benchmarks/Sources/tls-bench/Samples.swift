import Histogram
import Synchronization

/// Latencies of one measurement in µs, shared by the tasks that record them.
final class Samples: Sendable {
    private let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three))
    private let failures = Atomic<Int>(0)

    /// Records one success that took `elapsed`.
    func record(_ elapsed: Duration) {
        let micros = UInt64(max(0, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
        self.histogram.withLock { _ = $0.record(micros) }
    }

    /// Records one failure.
    func fail() { self.failures.add(1, ordering: .relaxed) }

    /// Successes so far.
    var count: Int { Int(self.histogram.withLock { $0.totalCount }) }
    /// Failures so far.
    var failed: Int { self.failures.load(ordering: .relaxed) }

    /// `count=… failed=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=…`
    var summary: String {
        let h = self.histogram.withLock { $0 }
        return "count=\(h.totalCount) failed=\(self.failed) p50_us=\(h.valueAtPercentile(50)) p90_us=\(h.valueAtPercentile(90)) p99_us=\(h.valueAtPercentile(99)) p999_us=\(h.valueAtPercentile(99.9)) max_us=\(h.max)"
    }

    /// The p99 in µs.
    var p99: UInt64 { self.histogram.withLock { $0.valueAtPercentile(99) } }
    /// The p50 in µs.
    var p50: UInt64 { self.histogram.withLock { $0.valueAtPercentile(50) } }
}
