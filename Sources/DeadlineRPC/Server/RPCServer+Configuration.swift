import CoreMetrics
import Instrumentation
import Logging
import Wire

extension RPCServer {
    /// Where handler tasks run. Never on the event loops that do the server's I/O: a handler that blocks its thread
    /// (a synchronous database driver, `usleep`, a busy loop) must not stop the deadline and straggler timers, nor
    /// the other connections served by that loop (README, "Handlers that block").
    public enum HandlerExecutor: Sendable, Hashable {
        /// Formerly: on the connection's event loop, saving a thread hop per call. A handler that blocked there
        /// stopped its connection's timers and every call on the loop, so the server now runs it as
        /// ``globalConcurrent``; the case stays so existing configurations compile.
        @available(*, deprecated, renamed: "globalConcurrent", message: "Handlers no longer run on I/O event loops; this behaves as .globalConcurrent.")
        case eventLoop
        /// On Swift's global concurrent executor (the default): I/O loops keep reading, writing and firing deadline
        /// timers whatever a handler does with its thread.
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
        /// Time a new connection has to send its preface and settings, counted from its acceptance: with TLS the
        /// handshake comes out of the same time.
        public var prefaceTimeout: Duration = .seconds(10)
        /// How long graceful shutdown lets in-flight calls run (each still bounded by its own deadline) before
        /// they are ended with `unavailable`.
        public var drainTimeout: Duration = .seconds(30)
        /// A connection older than this (within ±10 %, so that connections opened together do not all end
        /// together) is sent `GOAWAY(NO_ERROR)`: its calls finish, and its client opens a new connection for the next
        /// ones. Behind a TCP load balancer that is how clients reach replicas added since they connected. Nil (the
        /// default) lets a connection live as long as it is used.
        public var maxConnectionAge: Duration? = nil
        /// Pings a client that went quiet while calls are open, and closes its connection (cancelling the calls'
        /// handlers) when it does not answer: a vanished client cannot keep handlers running. Nil disables it.
        public var keepalive: Keepalive? = .server
        /// How long a connection past ``maxConnectionAge`` lets its open calls run (each still bounded by its own
        /// deadline) before they are ended with `unavailable` and the connection is closed.
        public var maxConnectionAgeGrace: Duration = .seconds(30)
        /// How long graceful shutdown waits, after turning the router's health services `NOT_SERVING`, for every
        /// health watcher to be sent that before the connections are sent GOAWAY; only a watcher whose client does not
        /// read (no credit left, or a full connection) takes that long: it is sent `NOT_SERVING` after the GOAWAY.
        public var healthAnnouncementTimeout: Duration = .seconds(1)
        /// Where handler tasks run (never on the I/O loops, see ``HandlerExecutor``).
        public var handlerExecutor: HandlerExecutor = .globalConcurrent
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
        /// Messages larger than this many bytes (before compression, or once inflated) are compressed and inflated
        /// on NIO's shared thread pool instead of the event loop, so one big message cannot stall every connection
        /// on the loop; smaller ones stay on the loop, where they cost less than the hop. A message split over
        /// frames is joined into one buffer off the loop too, above this or 256 KiB, whichever is larger; while one is,
        /// the connection reads no further frames (order holds). `Int.max` never offloads.
        public var compressionOffloadThreshold: Int = 16 * 1024
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

        /// Plaintext (the default), TLS or mutual TLS (`docs/SECURITY.md`). The TLS handshake counts against
        /// ``prefaceTimeout``.
        public var transportSecurity: ServerTransportSecurity = .plaintext

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
