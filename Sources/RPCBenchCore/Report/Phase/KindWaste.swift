/// Wasted work of one storm kind, over every hop.
public struct KindWaste: Sendable, Codable, Hashable {
    /// Storm handlers of this kind.
    public var handlers: Int
    /// Handler time after death, ms.
    public var totalMilliseconds: Double
    /// Handler time after death per handler, µs.
    public var perHandlerMicroseconds: LatencySummary

    /// Creates a value with every field given.
    public init(handlers: Int, totalMilliseconds: Double, perHandlerMicroseconds: LatencySummary) {
        self.handlers = handlers
        self.totalMilliseconds = totalMilliseconds
        self.perHandlerMicroseconds = perHandlerMicroseconds
    }
}
