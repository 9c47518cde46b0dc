import DeadlineRPC
import Foundation

/// The settings of a replica-chaos run, as `replicas.json` states them.
public struct ReplicaBenchSettings: Sendable, Codable, Hashable {
    /// Replica processes.
    public var replicas: Int
    /// Time between kills, s (0: no kills phase).
    public var killEverySeconds: Double
    /// Time a killed replica stays down before its restart, s.
    public var downForSeconds: Double
    /// `least-loaded`, `round-robin` or `pick-first`.
    public var balancing: String
    /// Whether victims went through a `RetryInterceptor`.
    public var retry: Bool
    /// `open` or `closed`.
    public var mode: String
    /// Open loop: victim calls per second (0 when closed).
    public var rate: Double
    /// Open loop: the cap on calls in flight.
    public var maxInFlight: Int
    /// Closed loop: callers (0 when open).
    public var concurrency: Int
    /// Victims' clients.
    public var clients: Int
    /// Request payload bytes.
    public var payloadBytes: Int
    /// Mean victim service time, µs.
    public var serviceTimeMicroseconds: Double
    /// Warm-up before each client's first phase, s.
    public var warmupSeconds: Double
    /// Each measured phase, s.
    public var durationSeconds: Double
    /// Each victim call's timeout, ms.
    public var victimTimeoutMilliseconds: Double
    /// `debug` or `release`.
    public var build: String
    /// Cores this process may use.
    public var cores: Int

    /// The settings `configuration` describes.
    public init(_ configuration: ReplicaBenchConfiguration) {
        let c = configuration.bench
        self.replicas = configuration.replicas
        self.killEverySeconds = configuration.killEvery.benchSeconds
        self.downForSeconds = configuration.downFor.benchSeconds
        self.balancing = Self.name(of: c.loadBalancing)
        self.retry = c.retry
        switch c.load {
        case .open(let rate, let cap):
            self.mode = "open"
            self.rate = rate
            self.maxInFlight = cap
            self.concurrency = 0
        case .closed(let callers):
            self.mode = "closed"
            self.rate = 0
            self.maxInFlight = 0
            self.concurrency = callers
        }
        self.clients = max(1, c.connections)
        self.payloadBytes = c.payloadBytes
        self.serviceTimeMicroseconds = c.serviceTime.benchMicroseconds
        self.warmupSeconds = c.warmup.benchSeconds
        self.durationSeconds = c.duration.benchSeconds
        self.victimTimeoutMilliseconds = c.victimTimeout.benchMicroseconds / 1_000
        #if DEBUG
        self.build = "debug"
        #else
        self.build = "release"
        #endif
        self.cores = ProcessInfo.processInfo.activeProcessorCount
    }

    /// The flag value naming `policy`.
    public static func name(of policy: LoadBalancingPolicy) -> String {
        switch policy {
        case .leastLoaded: return "least-loaded"
        case .roundRobin: return "round-robin"
        case .pickFirst: return "pick-first"
        }
    }
}
