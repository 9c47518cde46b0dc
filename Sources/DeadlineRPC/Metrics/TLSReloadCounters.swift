import CoreMetrics
import Synchronization

/// Atomic storage behind ``TLSReloadStats``, held by ``ServerCounters`` and ``ClientStats``. Changed with
/// sequentially consistent operations, as ``CounterWaiters`` requires; the owner (``TLSReloadRecording``) also
/// exports each outcome to swift-metrics and wakes its waiters after the change.
final class TLSReloadCounters: Sendable {
    private let succeeded = Atomic<Int>(0)
    /// Every failure, whatever its cause: the atomic a waiter's wake-up relies on (changed after ``byCause``).
    private let failed = Atomic<Int>(0)
    private let byCause = Mutex<[TLSReloadError.Cause: Int]>([:])

    init() {}

    func recordSucceeded() {
        self.succeeded.add(1, ordering: .sequentiallyConsistent)
    }

    func recordFailed(_ cause: TLSReloadError.Cause) {
        self.byCause.withLock { $0[cause, default: 0] += 1 }
        self.failed.add(1, ordering: .sequentiallyConsistent)
    }

    /// The counters now (sequentially consistent loads, so a waiter's reading sees every change it was woken for).
    var snapshot: TLSReloadStats {
        var stats = TLSReloadStats()
        stats.succeeded = self.succeeded.load(ordering: .sequentiallyConsistent)
        // The total first: a reading that sees a failure counted sees its cause too (the map changes before it).
        _ = self.failed.load(ordering: .sequentiallyConsistent)
        stats.failed = self.byCause.withLock { $0 }
        return stats
    }

    /// The swift-metrics counter of one outcome: `<prefix>_<role>_tls_reloads_total{result, cause}`.
    static func counter(prefix: String, role: String, cause: TLSReloadError.Cause?, factory: any MetricsFactory) -> Counter {
        let dimensions = cause.map { [("result", "failed"), ("cause", $0.rawValue)] } ?? [("result", "succeeded")]
        return Counter(label: "\(prefix)_\(role)_tls_reloads_total", dimensions: dimensions, factory: factory)
    }
}

/// Who counts a reloader's outcomes (the server's metrics, the client's stats): counts, exports, then wakes its
/// waiters.
protocol TLSReloadRecording: Sendable {
    func tlsReloadSucceeded()
    func tlsReloadFailed(_ cause: TLSReloadError.Cause)
}
