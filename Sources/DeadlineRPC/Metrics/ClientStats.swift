import CoreMetrics
import Logging
import Synchronization

/// A client's deadline-hygiene counters, readable at any time, and exported through swift-metrics.
public final class ClientStats: Sendable, TLSReloadRecording {
    private let clamped = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let shed = Atomic<Int>(0)
    private let opened = Atomic<Int>(0)
    private let late = Atomic<Int>(0)
    private let shedLatency = Atomic<Int>(0)
    private let ejected = Atomic<Int>(0)
    private let resolutionFailures = Atomic<Int>(0)
    private let goAways = Atomic<Int>(0)
    private let transparent = Atomic<Int>(0)
    private let health = Atomic<Int>(0)
    private let resolutions = Atomic<Int>(0)
    private let keepalives = Atomic<Int>(0)
    private let tlsReloadCounters = TLSReloadCounters()
    private let waiters = CounterWaiters<ClientStats>()
    /// Which path compressed messages took (on the loop or off it), for tests.
    let compression = CompressionCounters()
    private let loggedMethods = Mutex<Set<String>>([])
    private let prefix: String
    private let logger: Logger
    private let factory: any MetricsFactory

    init(prefix: String, factory: (any MetricsFactory)?, logger: Logger) {
        self.prefix = prefix
        self.factory = factory ?? MetricsSystem.factory
        self.logger = logger
    }

    /// Calls whose options tried to extend an inherited deadline (clamped to it, never obeyed).
    public var clampedDeadlines: Int { self.clamped.load(ordering: .sequentiallyConsistent) }
    /// Calls strict mode refused because they carried no deadline, or one beyond its maximum budget.
    public var refusedWithoutDeadline: Int { self.refused.load(ordering: .sequentiallyConsistent) }
    /// Calls not started because their remaining budget was spent or below the minimum.
    public var shedLocally: Int { self.shed.load(ordering: .sequentiallyConsistent) }
    /// Connections this client has opened (the server's settings arrived); more than one means earlier ones were
    /// lost or replaced.
    public var connectionsOpened: Int { self.opened.load(ordering: .sequentiallyConsistent) }
    /// Frames from servers dropped quietly because their stream had already ended here (PROTOCOL.md §9.3, §13.3):
    /// a message, `CALL_END`, `CANCEL` or `CREDIT` that crossed the call's end. Benign: cancel races produce them.
    public var lateFramesDropped: Int { self.late.load(ordering: .sequentiallyConsistent) }

    /// Calls failed at once with `deadlineExceeded` because every endpoint has recently been slower than their
    /// remaining budget (``BudgetAwarePicking``): work no server was asked to waste.
    public var shedForLatency: Int { self.shedLatency.load(ordering: .sequentiallyConsistent) }
    /// Times an endpoint was ejected after consecutive failures (``OutlierEjection``).
    public var endpointsEjected: Int { self.ejected.load(ordering: .sequentiallyConsistent) }
    /// Resolutions of a DNS target that failed (the last good set of endpoints was kept).
    public var resolutionsFailed: Int { self.resolutionFailures.load(ordering: .sequentiallyConsistent) }

    /// `GOAWAY`s received from servers: each moved new calls off that connection (to another endpoint, or a
    /// fresh connection).
    public var goAwaysReceived: Int { self.goAways.load(ordering: .sequentiallyConsistent) }

    /// Suspends until `condition` holds for the counters; false if the task is cancelled first. For tests and
    /// tools that await an event ("three connections open") instead of polling for it.
    func wait(until condition: @escaping @Sendable (ClientStats) -> Bool) async -> Bool {
        await self.waiters.wait(until: condition) { self } != nil
    }

    /// Calls a server's `GOAWAY` refused unprocessed that the client sent again by itself (to another endpoint or a
    /// fresh connection): safe for any method, since the server never saw them.
    public var transparentRetries: Int { self.transparent.load(ordering: .sequentiallyConsistent) }

    func recordTransparentRetry() {
        self.transparent.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_transparent_retries_total", dimensions: [], factory: self.factory).increment()
    }

    /// Health statuses the client's health checking has read from endpoints (each first status and each change).
    public var healthUpdates: Int { self.health.load(ordering: .sequentiallyConsistent) }

    /// Resolutions of a DNS target that succeeded (each applied: endpoints that left drain, new ones join).
    public var resolutionsSucceeded: Int { self.resolutions.load(ordering: .sequentiallyConsistent) }

    /// Reloads of the client's certificate chain, key and trust roots (on the interval or asked for): how many took,
    /// and how many failed by cause (the old material stayed). Each failure is also logged (`docs/SECURITY.md`).
    public var tlsReloads: TLSReloadStats { self.tlsReloadCounters.snapshot }
    /// Connections closed because the server went quiet and did not answer a keepalive ping
    /// (``RPCClient/Configuration/keepalive``): servers that vanished. Each is also logged.
    public var keepaliveTimeouts: Int { self.keepalives.load(ordering: .sequentiallyConsistent) }

    func tlsReloadSucceeded() {
        TLSReloadCounters.counter(prefix: self.prefix, role: "client", cause: nil, factory: self.factory).increment()
        self.tlsReloadCounters.recordSucceeded()
        self.waiters.changed { self }
    }

    func tlsReloadFailed(_ cause: TLSReloadError.Cause) {
        TLSReloadCounters.counter(prefix: self.prefix, role: "client", cause: cause, factory: self.factory).increment()
        self.tlsReloadCounters.recordFailed(cause)
        self.waiters.changed { self }
    }

    func recordResolution() {
        self.resolutions.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
    }

    func recordHealthChange() {
        self.health.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
    }

    func recordKeepaliveTimeout() {
        self.keepalives.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_keepalive_timeouts_total", dimensions: [], factory: self.factory).increment()
    }

    func recordGoAwayReceived() {
        self.goAways.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
    }

    func recordShedForLatency(method: String) {
        self.shedLatency.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_calls_shed_for_latency_total", dimensions: [("method", method)], factory: self.factory).increment()
    }

    func recordEndpointEjected() {
        self.ejected.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_endpoints_ejected_total", dimensions: [], factory: self.factory).increment()
    }

    func recordResolutionFailed() {
        self.resolutionFailures.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_resolutions_failed_total", dimensions: [], factory: self.factory).increment()
    }

    func recordLateFrameDropped() {
        self.late.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_late_frames_dropped_total", dimensions: [], factory: self.factory).increment()
    }

    func recordConnectionOpened() {
        self.opened.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_connections_opened_total", dimensions: [], factory: self.factory).increment()
    }

    func recordDeadlineClamped(method: String, requested: Duration, inherited: Duration) {
        self.clamped.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_deadline_clamped_total", dimensions: [("method", method)], factory: self.factory).increment()
        let first = self.loggedMethods.withLock { $0.insert(method).inserted }
        if first {
            self.logger.warning(
                "An outbound call asked for more time than the call being served has left; it was clamped to the inherited deadline (logged once per method)",
                metadata: ["drpc.method": "\(method)", "drpc.requested": "\(requested)", "drpc.inherited": "\(inherited)"]
            )
        }
    }

    func recordRefusedWithoutDeadline(method: String) {
        self.refused.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_calls_refused_without_deadline_total", dimensions: [("method", method)], factory: self.factory).increment()
    }

    func recordShedLocally(method: String) {
        self.shed.add(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self }
        Counter(label: "\(self.prefix)_client_calls_shed_total", dimensions: [("method", method)], factory: self.factory).increment()
    }
}
