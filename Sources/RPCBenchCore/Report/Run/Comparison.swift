/// The headline ratios of the run.
public struct Comparison: Sendable, Codable, Hashable {
    /// Victim p99 without storm, µs.
    public var victimP99CalmMicroseconds: Double
    /// Victim p99 with storm, µs.
    public var victimP99StormMicroseconds: Double
    /// Storm p99 / calm p99.
    public var victimP99Ratio: Double
    /// Victim errors during the storm.
    public var victimErrorsStorm: Int
    /// Victim throughput without and with storm, calls/s.
    public var victimThroughputCalm: Double
    /// Victim throughput with storm, calls/s.
    public var victimThroughputStorm: Double
    /// Victim p99 with storm and propagation off, µs (0 if not run).
    public var victimP99PropagationOffMicroseconds: Double
    /// That p99 / calm p99.
    public var victimP99RatioPropagationOff: Double
    /// Victim errors with propagation off.
    public var victimErrorsPropagationOff: Int
    /// Wasted handler time with propagation on, ms.
    public var wastedWorkPropagationOnMilliseconds: Double
    /// Wasted handler time with propagation off, ms.
    public var wastedWorkPropagationOffMilliseconds: Double
    /// Wasted handler time at hops 2+ with propagation on, ms.
    public var wastedBeyondFirstHopPropagationOnMilliseconds: Double
    /// Wasted handler time at hops 2+ with propagation off, ms.
    public var wastedBeyondFirstHopPropagationOffMilliseconds: Double

    /// Creates a value with every field given.
    public init(
        victimP99CalmMicroseconds: Double,
        victimP99StormMicroseconds: Double,
        victimP99Ratio: Double,
        victimErrorsStorm: Int,
        victimThroughputCalm: Double,
        victimThroughputStorm: Double,
        victimP99PropagationOffMicroseconds: Double,
        victimP99RatioPropagationOff: Double,
        victimErrorsPropagationOff: Int,
        wastedWorkPropagationOnMilliseconds: Double,
        wastedWorkPropagationOffMilliseconds: Double,
        wastedBeyondFirstHopPropagationOnMilliseconds: Double,
        wastedBeyondFirstHopPropagationOffMilliseconds: Double
    ) {
        self.victimP99CalmMicroseconds = victimP99CalmMicroseconds
        self.victimP99StormMicroseconds = victimP99StormMicroseconds
        self.victimP99Ratio = victimP99Ratio
        self.victimErrorsStorm = victimErrorsStorm
        self.victimThroughputCalm = victimThroughputCalm
        self.victimThroughputStorm = victimThroughputStorm
        self.victimP99PropagationOffMicroseconds = victimP99PropagationOffMicroseconds
        self.victimP99RatioPropagationOff = victimP99RatioPropagationOff
        self.victimErrorsPropagationOff = victimErrorsPropagationOff
        self.wastedWorkPropagationOnMilliseconds = wastedWorkPropagationOnMilliseconds
        self.wastedWorkPropagationOffMilliseconds = wastedWorkPropagationOffMilliseconds
        self.wastedBeyondFirstHopPropagationOnMilliseconds = wastedBeyondFirstHopPropagationOnMilliseconds
        self.wastedBeyondFirstHopPropagationOffMilliseconds = wastedBeyondFirstHopPropagationOffMilliseconds
    }
}
