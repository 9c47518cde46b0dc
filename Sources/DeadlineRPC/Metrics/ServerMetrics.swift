import CoreMetrics
import Synchronization
import Wire

/// The server's swift-metrics instruments. Per-method instruments are created once per method and reused; the
/// router's entries carry theirs (``MethodMetrics``), so the hot path never looks them up by name.
///
/// Each method ends with `counters.changed()`, which wakes tasks awaiting the counters (tests): last, so a task
/// woken by a counter also sees the instruments the same method updated. When none waits it costs one atomic load.
/// The counters change with sequentially consistent operations so that no wake-up is lost (see ``CounterWaiters``).
final class ServerMetrics: TLSReloadRecording {
    let prefix: String
    let counters = ServerCounters()
    private let handlersInFlight: Meter
    private let stragglersNow: Meter
    private let stragglerOverrun: Timer
    private let methods = Mutex<[String: MethodMetrics]>([:])

    private let factory: any MetricsFactory

    init(prefix: String, factory: (any MetricsFactory)? = nil) {
        self.prefix = prefix
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        self.handlersInFlight = Meter(label: "\(prefix)_server_handlers_in_flight", dimensions: [], factory: factory)
        self.stragglersNow = Meter(label: "\(prefix)_server_stragglers", dimensions: [], factory: factory)
        self.stragglerOverrun = Timer(label: "\(prefix)_server_straggler_overrun_seconds", dimensions: [], factory: factory)
    }

    /// The instruments of `method`, created on first use.
    func methodMetrics(for method: String) -> MethodMetrics {
        self.methods.withLock { all in
            if let metrics = all[method] { return metrics }
            let metrics = MethodMetrics(method: method, prefix: self.prefix, factory: self.factory)
            all[method] = metrics
            return metrics
        }
    }

    func callStarted(_ method: String) {
        self.callStarted(self.methodMetrics(for: method))
    }

    func callStarted(_ method: MethodMetrics) {
        self.counters.callsStarted.add(1, ordering: .sequentiallyConsistent)
        method.started.increment()
        self.counters.changed()
    }

    func callFinished(_ method: String, code: StatusCode, nanoseconds: Int64) {
        self.callFinished(self.methodMetrics(for: method), code: code, nanoseconds: nanoseconds)
    }

    func callFinished(_ method: MethodMetrics, code: StatusCode, nanoseconds: Int64) {
        self.counters.callsFinished.add(1, ordering: .sequentiallyConsistent)
        method.finished(code).increment()
        method.duration.recordNanoseconds(nanoseconds)
        self.counters.changed()
    }

    func callShed(_ method: MethodMetrics) {
        self.counters.shedCalls.add(1, ordering: .sequentiallyConsistent)
        method.shed.increment()
        self.counters.changed()
    }

    /// Cancelling a handler task held its event loop (its cancellation handlers were slow).
    func slowCancellationHandler() {
        Counter(label: "\(self.prefix)_server_slow_cancellation_handlers_total", dimensions: [], factory: self.factory).increment()
        self.counters.slowCancellationHandlers.add(1, ordering: .sequentiallyConsistent)
        self.counters.changed()
    }

    /// A connection closed because its client did not answer a keepalive ping.
    func keepaliveTimedOut() {
        Counter(label: "\(self.prefix)_server_keepalive_timeouts_total", dimensions: [], factory: self.factory).increment()
        self.counters.keepaliveTimeouts.add(1, ordering: .sequentiallyConsistent)
        self.counters.changed()
    }

    /// A connection refused at the TLS layer (`cause` is a short label, e.g. `no_client_certificate`).
    func tlsHandshakeFailed(cause: String) {
        Counter(label: "\(self.prefix)_server_tls_handshake_failures_total", dimensions: [("cause", cause)], factory: self.factory).increment()
        self.counters.tlsHandshakeFailures.add(1, ordering: .sequentiallyConsistent)
        self.counters.changed()
    }

    func tlsReloadSucceeded() {
        TLSReloadCounters.counter(prefix: self.prefix, role: "server", cause: nil, factory: self.factory).increment()
        self.counters.tlsReloads.recordSucceeded()
        self.counters.changed()
    }

    func tlsReloadFailed(_ cause: TLSReloadError.Cause) {
        TLSReloadCounters.counter(prefix: self.prefix, role: "server", cause: cause, factory: self.factory).increment()
        self.counters.tlsReloads.recordFailed(cause)
        self.counters.changed()
    }

    func callRefused() {
        self.counters.refusedCalls.add(1, ordering: .sequentiallyConsistent)
        self.counters.changed()
    }

    func handlerStarted() {
        self.counters.handlersInFlight.add(1, ordering: .sequentiallyConsistent)
        self.handlersInFlight.increment()
        self.counters.changed()
    }

    func handlerReturned() {
        self.counters.handlersInFlight.subtract(1, ordering: .sequentiallyConsistent)
        self.handlersInFlight.decrement()
        self.counters.changed()
    }

    func stragglerDetected(_ method: MethodMetrics) {
        self.counters.stragglersNow.add(1, ordering: .sequentiallyConsistent)
        self.counters.stragglersTotal.add(1, ordering: .sequentiallyConsistent)
        self.stragglersNow.increment()
        method.stragglers.increment()
        self.counters.changed()
    }

    func stragglerReturned(overrunNanoseconds: Int64) {
        self.counters.stragglersNow.subtract(1, ordering: .sequentiallyConsistent)
        self.stragglersNow.decrement()
        self.stragglerOverrun.recordNanoseconds(overrunNanoseconds)
        self.counters.changed()
    }
}
