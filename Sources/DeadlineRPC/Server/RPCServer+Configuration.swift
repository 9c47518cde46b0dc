import CoreMetrics
import Instrumentation
import Logging
import Wire

extension RPCServer {
    /// Where handler tasks run.
    public enum HandlerExecutor: Sendable, Hashable {
        /// On the connection's event loop (a task executor): no thread hop between I/O and handler. Best for
        /// handlers that await rather than compute; a handler that burns CPU delays its connection's I/O.
        case eventLoop
        /// On Swift's global concurrent executor: handlers that compute do not hold up I/O, at the price of a
        /// thread hand-off per call.
        case globalConcurrent
    }

    /// How a server behaves; every limit has a default and is advertised to clients exactly as enforced.
    public struct Configuration: Sendable {
        /// Frame, message and metadata limits.
        public var limits: WireLimits = .default
        /// Streams a client may have open at once on one connection (a call it cancelled stops counting at once);
        /// the call above it is refused with `resourceExhausted` and the connection survives. Also the most handlers
        /// that run at once, cancelled ones counting until they return: a call admitted while all are busy waits.
        public var maxConcurrentStreams: Int = 100
        /// Message bytes a client may send on a stream before it is granted more.
        public var initialStreamCredit: Int = 64 * 1024
        /// Time a new connection has to send its preface and settings.
        public var prefaceTimeout: Duration = .seconds(10)
        /// How long graceful shutdown lets in-flight calls run (each still bounded by its own deadline) before
        /// they are ended with `unavailable`.
        public var drainTimeout: Duration = .seconds(30)
        /// Where handler tasks run.
        public var handlerExecutor: HandlerExecutor = .eventLoop
        /// The largest budget accepted from a client; longer ones are cut to it (untrusted peers cannot pin
        /// handlers forever). Nil accepts any budget.
        public var maxInboundBudget: Duration? = nil
        /// Calls arriving with less budget than this are answered `deadlineExceeded` without running the handler.
        public var minimumBudget: Duration = .zero
        /// A handler still running this long after its call was cancelled or expired is a straggler: counted,
        /// logged and exported.
        public var stragglerGracePeriod: Duration = .milliseconds(250)
        /// Encodings the server can decompress (advertised in settings).
        public var acceptedEncodings: [MessageEncoding] = [.gzip, .deflate]
        /// Prefix of every metric name.
        public var metricsPrefix: String = "drpc"
        /// Where metrics go; nil uses the process-wide `MetricsSystem` (bootstrap it once, e.g. with Prometheus).
        public var metricsFactory: (any MetricsFactory)? = nil
        /// Where the server logs; call logs carry `drpc.method` and `drpc.call_id`.
        public var logger: Logger = Logger(label: "DeadlineRPC.server")
        /// Interceptors around every handler, outermost first (e.g. auth, then logging, then metrics).
        public var interceptors: [any ServerInterceptor] = []
        /// Reads the trace context (W3C `traceparent`) from request metadata into ``CallContext/serviceContext``;
        /// nil uses the process-wide `InstrumentationSystem.instrument`.
        public var instrument: (any Instrument)? = nil
        /// Typed `ServiceContext` values read from request metadata into ``CallContext/serviceContext`` (and so
        /// into the handler's outbound calls, when their client registers the same keys).
        public var propagatedKeys = PropagatedKeys()
        /// Per-connection abuse limits: idle timeout, glitch budget, ping policy, control-queue bound, optional
        /// reset budget (`docs/LIMITS.md`).
        public var connectionLimits: ConnectionLimits = ConnectionLimits()

        /// The defaults.
        public init() {}

        var settings: Settings {
            Settings(
                limits: self.limits,
                maxConcurrentStreams: UInt32(clamping: self.maxConcurrentStreams),
                initialStreamCredit: UInt32(clamping: min(self.initialStreamCredit, Int(Settings.maxCredit))),
                acceptedEncodings: self.acceptedEncodings.reduce(0) { $0 | $1.settingsBit }
            )
        }
    }
}
