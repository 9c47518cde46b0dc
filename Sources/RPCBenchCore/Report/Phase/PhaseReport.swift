/// One phase: the victims' figures, the storm's, and the servers' counters over the phase.
public struct PhaseReport: Sendable, Codable {
    /// `calm`, `storm` or `storm-propagation-off`.
    public var name: String
    /// Whether the storm ran.
    public var storm: Bool
    /// Whether the hops forwarded deadline and cancellation.
    public var propagation: Bool
    /// Measured seconds (first intended send to last completion).
    public var seconds: Double
    /// The victims.
    public var victims: VictimReport
    /// The storm's figures (zero in the calm phase).
    public var stormResults: StormReport
    /// Server counters over the phase.
    public var server: PhaseServerReport
    /// How late the open loop's pacer released calls (already included in the victims' latency), µs.
    public var pacerLatenessMicroseconds: LatencySummary

    /// Creates a value with every field given.
    public init(
        name: String,
        storm: Bool,
        propagation: Bool,
        seconds: Double,
        victims: VictimReport,
        stormResults: StormReport,
        server: PhaseServerReport,
        pacerLatenessMicroseconds: LatencySummary
    ) {
        self.name = name
        self.storm = storm
        self.propagation = propagation
        self.seconds = seconds
        self.victims = victims
        self.stormResults = stormResults
        self.server = server
        self.pacerLatenessMicroseconds = pacerLatenessMicroseconds
    }
}
