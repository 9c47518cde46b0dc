import CoreMetrics
import Synchronization
import Wire

/// One method's swift-metrics instruments, resolved once when the server is created and carried by the method's
/// router entry, so a call costs no dictionary look-up (no string hashing, no shared lock) to count itself.
final class MethodMetrics: Sendable {
    let method: String
    let started: Counter
    let duration: Timer
    let shed: Counter
    let stragglers: Counter
    /// Whether a handler's invalid trailers were already logged for this method (the warning is once per method).
    let invalidTrailersLogged = Atomic<Bool>(false)
    private let factory: any MetricsFactory
    private let prefix: String
    /// Indexed by status code; created on first use so a backend only exports the codes that occurred.
    private let finished = Mutex<[Counter?]>(Array(repeating: nil, count: 17))

    init(method: String, prefix: String, factory: any MetricsFactory) {
        let dims = [("method", method)]
        self.method = method
        self.prefix = prefix
        self.factory = factory
        self.started = Counter(label: "\(prefix)_server_calls_started_total", dimensions: dims, factory: factory)
        self.duration = Timer(label: "\(prefix)_server_call_duration_seconds", dimensions: dims, factory: factory)
        self.shed = Counter(label: "\(prefix)_server_calls_shed_total", dimensions: dims, factory: factory)
        self.stragglers = Counter(label: "\(prefix)_server_stragglers_total", dimensions: dims, factory: factory)
    }

    /// The counter of calls of this method that ended with `code`.
    func finished(_ code: StatusCode) -> Counter {
        let index = Int(code.rawValue)
        return self.finished.withLock { counters in
            if index < counters.count, let counter = counters[index] { return counter }
            let counter = Counter(
                label: "\(self.prefix)_server_calls_finished_total",
                dimensions: [("method", self.method), ("code", code.description)],
                factory: self.factory
            )
            if index < counters.count { counters[index] = counter }
            return counter
        }
    }
}
