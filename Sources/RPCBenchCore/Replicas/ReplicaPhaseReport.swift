/// One phase of a replica-chaos run: `single` (one endpoint), `replicas` (every replica, no kills) or `kills`.
public struct ReplicaPhaseReport: Sendable, Codable {
    /// `single`, `replicas` or `kills`.
    public var name: String
    /// Endpoints the victims' clients were made for.
    public var endpoints: Int
    /// First intended send to last completion, s.
    public var seconds: Double
    /// The victims: calls, errors by code, latency (open loop: from the intended send time).
    public var victims: VictimReport
    /// Retries, refusals, GOAWAYs, ejections and reconnections over the phase.
    public var client: ReplicaClientCounters
    /// The replicas killed and restarted (empty but in `kills`).
    public var kills: [ReplicaKill]
    /// Victim calls each replica started over the phase (every life of it; a killed one read just before its
    /// kill, so a call or two started in between is missing): where the balancer sent them.
    public var callsByReplica: [Int]
    /// How late the pacer released calls (already included in victim latency).
    public var pacerLatenessMicroseconds: LatencySummary
    /// CPU time of the bench process (the victims' clients, pacer and bookkeeping; the replicas are other
    /// processes) over the phase, per victim call, µs: the client side's cost of a call, balancer included.
    public var clientCPUMicrosecondsPerCall: Double

    /// Creates a value with every field given.
    public init(
        name: String,
        endpoints: Int,
        seconds: Double,
        victims: VictimReport,
        client: ReplicaClientCounters,
        kills: [ReplicaKill],
        callsByReplica: [Int],
        pacerLatenessMicroseconds: LatencySummary,
        clientCPUMicrosecondsPerCall: Double
    ) {
        self.name = name
        self.endpoints = endpoints
        self.seconds = seconds
        self.victims = victims
        self.client = client
        self.kills = kills
        self.callsByReplica = callsByReplica
        self.pacerLatenessMicroseconds = pacerLatenessMicroseconds
        self.clientCPUMicrosecondsPerCall = clientCPUMicrosecondsPerCall
    }
}
