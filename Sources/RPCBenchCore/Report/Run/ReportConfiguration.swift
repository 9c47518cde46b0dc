/// The run's settings, as flags would give them.
public struct ReportConfiguration: Sendable, Codable, Hashable {
    /// `open` or `closed`.
    public var mode: String
    /// Victim calls per second (open loop; 0 in a closed loop).
    public var rate: Double
    /// Open loop: the cap on victim calls in flight.
    public var maxInFlight: Int
    /// Closed loop: concurrent callers (0 in an open loop).
    public var concurrency: Int
    /// Client connections the victims and the storm share.
    public var connections: Int
    /// Request payload bytes (echoed back).
    public var payloadBytes: Int
    /// Mean victim handler service time, µs.
    public var serviceTimeMicroseconds: Double
    /// `fixed` or `exponential`.
    public var serviceTimeDistribution: String
    /// `spin` or `park`.
    public var serviceWork: String
    /// Warm-up, s.
    public var warmupSeconds: Double
    /// Each measured phase, s.
    public var durationSeconds: Double
    /// Victim call timeout, ms.
    public var victimTimeoutMilliseconds: Double
    /// Servers in the chain.
    public var hops: Int
    /// Where the servers ran handlers: `global` (reports written before handlers left the I/O loops may say
    /// `event-loop`).
    public var handlerExecutor: String
    /// The embedded servers' stream limit per connection.
    public var maxConcurrentStreams: Int
    /// Whether the propagation-off phase ran.
    public var comparePropagation: Bool
    /// The storm's settings.
    public var storm: StormSettings
    /// `release` or `debug` (debug figures are not meaningful).
    public var build: String
    /// Logical CPUs of this machine.
    public var cores: Int
    /// The RPC stack measured: `DeadlineRPC` (rpcbench) or a peer (`grpc-swift-2`, from Benchmarks/PeerStorm).
    public var stack: String

    /// Creates a value with every field given.
    public init(
        mode: String,
        rate: Double,
        maxInFlight: Int,
        concurrency: Int,
        connections: Int,
        payloadBytes: Int,
        serviceTimeMicroseconds: Double,
        serviceTimeDistribution: String,
        serviceWork: String,
        warmupSeconds: Double,
        durationSeconds: Double,
        victimTimeoutMilliseconds: Double,
        hops: Int,
        handlerExecutor: String,
        maxConcurrentStreams: Int,
        comparePropagation: Bool,
        storm: StormSettings,
        build: String,
        cores: Int,
        stack: String = "DeadlineRPC"
    ) {
        self.mode = mode
        self.rate = rate
        self.maxInFlight = maxInFlight
        self.concurrency = concurrency
        self.connections = connections
        self.payloadBytes = payloadBytes
        self.serviceTimeMicroseconds = serviceTimeMicroseconds
        self.serviceTimeDistribution = serviceTimeDistribution
        self.serviceWork = serviceWork
        self.warmupSeconds = warmupSeconds
        self.durationSeconds = durationSeconds
        self.victimTimeoutMilliseconds = victimTimeoutMilliseconds
        self.hops = hops
        self.handlerExecutor = handlerExecutor
        self.maxConcurrentStreams = maxConcurrentStreams
        self.comparePropagation = comparePropagation
        self.storm = storm
        self.build = build
        self.cores = cores
        self.stack = stack
    }
}
