import CoreMetrics
import Instrumentation
import Logging
import Wire

extension RPCClient {
    /// Reconnection pacing after a failed connection attempt: exponential with jitter.
    public struct Backoff: Sendable, Hashable {
        /// Delay after the first failure.
        public var initial: Duration = .milliseconds(100)
        /// The cap on the delay.
        public var maximum: Duration = .seconds(5)
        /// Growth per further failure.
        public var multiplier: Double = 1.6
        /// Fraction of random spread around each delay (0.2 = ±20 %), so clients do not reconnect in lockstep.
        public var jitter: Double = 0.2

        /// The defaults: 100 ms, ×1.6, capped at 5 s, ±20 %.
        public init() {}

        /// The delay before attempt `attempt` (1-based) without jitter.
        func baseDelay(attempt: Int) -> Duration {
            let factor = pow(self.multiplier, Double(max(0, attempt - 1)))
            let nanos = min(Double(self.initial.nanoseconds) * factor, Double(self.maximum.nanoseconds))
            return .nanoseconds(Int64(nanos))
        }

        /// The delay before attempt `attempt` with jitter applied.
        func delay(attempt: Int) -> Duration {
            let base = Double(self.baseDelay(attempt: attempt).nanoseconds)
            let spread = base * self.jitter
            return .nanoseconds(Int64(max(0, base + Double.random(in: -spread...spread))))
        }
    }

    /// The keepalive policy type, shared with the server (``DeadlineRPC/Keepalive``).
    public typealias Keepalive = DeadlineRPC.Keepalive

    /// Whether deadlines and cancellation flow from the call being served into outbound calls.
    public enum Propagation: Sendable, Hashable {
        /// Outbound calls inherit the remaining deadline and are cancelled with the handler (the default).
        case enabled
        /// Reproduces Go's `context.Background()` bug on purpose: outbound calls ignore the call being served —
        /// no inherited deadline, no cancel cascade. For benchmarks and demos only.
        case disabledToReproduceLeaks
    }

    /// How a client behaves.
    public struct Configuration: Sendable {
        /// Frame, message and metadata limits for what the server sends.
        public var limits: WireLimits = .default
        /// Message bytes the server may send on a stream before it is granted more.
        public var initialStreamCredit: Int = 64 * 1024
        /// Time allowed to establish the TCP connection and receive the server's settings.
        public var connectTimeout: Duration = .seconds(5)
        /// Reconnection pacing.
        public var backoff: Backoff = Backoff()
        /// Pings a connection the server has been quiet on, to find a server that vanished without closing; nil
        /// disables them (calls then rely on their deadlines alone).
        public var keepalive: Keepalive? = .client
        /// Calls that may wait for a connection being established; more fail `unavailable` at once.
        public var maxPendingCalls: Int = 10_000
        /// Encodings the client can decompress (advertised in settings).
        public var acceptedEncodings: [MessageEncoding] = [.gzip, .deflate]
        /// Messages larger than this many bytes (before compression, or once inflated) are compressed and inflated
        /// on NIO's shared thread pool instead of the event loop, so one big message cannot stall every connection
        /// on the loop; smaller ones stay on the loop, where they cost less than the hop. A message split over
        /// frames is joined into one buffer off the loop too, above this or 256 KiB, whichever is larger; while one is,
        /// the connection reads no further frames (order holds). `Int.max` never offloads.
        public var compressionOffloadThreshold: Int = 16 * 1024
        /// Runs on the pool thread before each offloaded compression: tests hold the work there to cancel a call
        /// whose message is being compressed.
        var compressionProbe: (@Sendable () -> Void)? = nil
        /// Strict mode: refuse (with `failedPrecondition`) any call that would go out without a deadline, or with one
        /// so far away it bounds nothing (`.distantFuture`, or a budget above ``strictModeMaximumBudget``).
        public var requireDeadline: Bool = false
        /// In strict mode, the largest budget a call may carry; a larger one counts as no deadline and is refused.
        /// Ignored unless ``requireDeadline`` is set.
        public var strictModeMaximumBudget: Duration = .seconds(3600)
        /// Don't start a call that cannot finish: a call with less budget than this left fails locally with
        /// `deadlineExceeded` and nothing is sent.
        public var minimumBudget: Duration = .zero
        /// Prefix of the client's metric names.
        public var metricsPrefix: String = "drpc"
        /// Where the client's metrics go (`<prefix>_client_deadline_clamped_total`, `…_calls_shed_total`,
        /// `…_calls_refused_without_deadline_total`, all by method); nil uses the process-wide `MetricsSystem`.
        public var metricsFactory: (any MetricsFactory)? = nil
        /// Whether calls inherit the deadline and cancellation of the call being served. Leave it `.enabled`;
        /// the other value exists only to measure what the runtime prevents (benchmarks and demos).
        public var propagation: Propagation = .enabled
        /// Where the client logs.
        public var logger: Logger = Logger(label: "DeadlineRPC.client")
        /// Interceptors around every call, outermost first (e.g. retry, then logging, then credentials).
        public var interceptors: [any ClientInterceptor] = []
        /// Writes the trace context (W3C `traceparent`) of `ServiceContext.current` into request metadata; nil uses
        /// the process-wide `InstrumentationSystem.instrument`. It only adds: a key already there fails the call.
        public var instrument: (any Instrument)? = nil
        /// Typed `ServiceContext` values written into every call's metadata under their wire names (give the
        /// server the same set). Empty by default: nothing but the instrument's trace context is injected.
        public var propagatedKeys = PropagatedKeys()

        /// How a call picks among several endpoints (a list or a DNS name's records): least loaded of two by default.
        public var loadBalancing: LoadBalancingPolicy = .leastLoaded
        /// Resolves a ``Target/dns(_:port:)`` target: the platform's resolver by default; ``DNSResolver`` asks one
        /// DNS server directly.
        public var resolver: any NameResolver = SystemResolver()
        /// How often a DNS target is resolved again (also at once when a connection fails). 30 s, like grpc-go's
        /// minimum re-resolution interval.
        public var resolutionInterval: Duration = .seconds(30)
        /// Passive outlier ejection of endpoints that keep failing; nil turns it off.
        public var outlierEjection: OutlierEjection? = OutlierEjection()
        /// Don't send a call to an endpoint that has recently been slower than the call's remaining budget, and fail
        /// it at once when every endpoint has; nil turns it off. Applies to targets with several endpoints.
        public var budgetAwarePicking: BudgetAwarePicking? = BudgetAwarePicking()

        /// Plaintext (the default), TLS or mutual TLS (`docs/SECURITY.md`); the TLS handshake counts against
        /// ``connectTimeout``.
        public var transportSecurity: ClientTransportSecurity = .plaintext

        /// Watch each endpoint's health service and pick only those that serve; nil (the default) does not check.
        public var healthChecking: HealthChecking? = nil

        /// The defaults.
        public init() {}

        var settings: Settings {
            Settings(
                limits: self.limits,
                maxConcurrentStreams: 0,  // The server never opens streams.
                initialStreamCredit: UInt32(clamping: min(self.initialStreamCredit, Int(Settings.maxCredit))),
                acceptedEncodings: self.acceptedEncodings.reduce(0) { $0 | $1.settingsBit }
            )
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
