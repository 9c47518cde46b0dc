import DeadlineRPC

/// Everything a bench run needs; the defaults are `rpcbench` without arguments.
public struct BenchConfiguration: Sendable {
    /// What the bench calls.
    public enum Target: Sendable, Hashable {
        /// A chain of `hops` servers in this process, each calling the next.
        case embedded(hops: Int)
        /// A `rpcbench serve` process (its chain length is read from it).
        case remote(host: String, port: Int)
        /// Several `rpcbench serve` replicas behind one DeadlineRPC target (a list or a DNS name), driven through
        /// the client's balancer; their counters and records are read from each replica and added up.
        case replicas(DeadlineRPC.Target)
    }

    /// How victim service times vary.
    public enum ServiceTimeDistribution: String, Sendable, Hashable, CaseIterable {
        /// Every call takes the mean.
        case fixed
        /// Exponentially distributed around the mean.
        case exponential
    }

    /// What the bench calls.
    public var target: Target = .embedded(hops: 3)
    /// The victims' load.
    public var load: LoadShape = .open(rate: 2_000, maxInFlight: 1_000)
    /// Client connections (victims and storm share them; calls go round-robin).
    public var connections = 1
    /// Request payload bytes, echoed back.
    public var payloadBytes = 64
    /// Mean victim service time.
    public var serviceTime: Duration = .zero
    /// How it varies.
    public var serviceTimeDistribution: ServiceTimeDistribution = .fixed
    /// How victim handlers spend it.
    public var serviceWork: WorkKind = .spin
    /// Victims-only load before measuring (not recorded).
    public var warmup: Duration = .seconds(2)
    /// Each measured phase.
    public var duration: Duration = .seconds(6)
    /// The timeout of every victim call (a hung call shows as `deadlineExceeded` instead of stalling the bench).
    public var victimTimeout: Duration = .seconds(2)
    /// The storm.
    public var storm = StormConfiguration()
    /// Whether to run the storm again with propagation off on the hop clients.
    public var comparePropagation = true
    /// Embedded servers' settings.
    public var server = BenchServerOptions()
    /// The longest wait for handlers to return after a phase and after the run.
    public var drainTimeout: Duration = .seconds(10)
    /// How the bench's clients pick among a multi-endpoint target's replicas.
    public var loadBalancing: LoadBalancingPolicy = .leastLoaded
    /// Whether the bench's clients retry (a `RetryInterceptor` with its defaults): victims are idempotent, so a
    /// victim that failed `unavailable` is sent again to another replica; storm calls are not retried.
    public var retry = false
    /// How the bench's own clients connect (`rpcbench --tls`: TLS trusting the servers' throwaway CA); the
    /// servers' side is ``BenchServerOptions/transportSecurity``.
    public var clientSecurity: ClientTransportSecurity = .plaintext

    /// The defaults.
    public init() {}

    /// The configuration of the bench's clients: the balancing policy, and a fresh `RetryInterceptor` (with its
    /// own budget and stats) when ``retry`` is set.
    public var clientConfiguration: RPCClient.Configuration {
        var configuration = RPCClient.Configuration()
        configuration.loadBalancing = self.loadBalancing
        configuration.transportSecurity = self.clientSecurity
        if self.retry { configuration.interceptors = [RetryInterceptor()] }
        return configuration
    }

    /// The chain length of an embedded target (1 for a remote one until read from it).
    public var embeddedHops: Int {
        if case .embedded(let hops) = self.target { return hops }
        return 1
    }
}
