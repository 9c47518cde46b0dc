/// The victims of one phase.
public struct VictimReport: Sendable, Codable {
    /// Calls sent.
    public var calls: Int
    /// Calls that succeeded.
    public var succeeded: Int
    /// Calls that failed.
    public var errors: Int
    /// Failed calls by status code name.
    public var errorsByCode: [String: Int]
    /// Successful calls per second.
    public var throughputPerSecond: Double
    /// Latency of successful calls, µs (open loop: from the intended send time).
    public var latencyMicroseconds: LatencySummary
    /// The latency distribution, for plots.
    public var percentileCurve: [CurvePoint]

    /// Creates a value with every field given.
    public init(
        calls: Int,
        succeeded: Int,
        errors: Int,
        errorsByCode: [String: Int],
        throughputPerSecond: Double,
        latencyMicroseconds: LatencySummary,
        percentileCurve: [CurvePoint]
    ) {
        self.calls = calls
        self.succeeded = succeeded
        self.errors = errors
        self.errorsByCode = errorsByCode
        self.throughputPerSecond = throughputPerSecond
        self.latencyMicroseconds = latencyMicroseconds
        self.percentileCurve = percentileCurve
    }
}
