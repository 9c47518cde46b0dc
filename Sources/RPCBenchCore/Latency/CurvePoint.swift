/// One point of a percentile curve.
public struct CurvePoint: Sendable, Hashable, Codable {
    /// Percentile, 0...100.
    public var percentile: Double
    /// Latency at that percentile, µs.
    public var microseconds: Double

    /// Creates a point.
    public init(percentile: Double, microseconds: Double) {
        self.percentile = percentile
        self.microseconds = microseconds
    }
}
