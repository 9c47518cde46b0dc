/// Wasted work at one hop.
public struct HopWaste: Sendable, Codable, Hashable {
    /// The hop.
    public var hop: Int
    /// Storm handlers that ran at this hop.
    public var handlers: Int
    /// Handlers still running after their call died.
    public var handlersPastDeath: Int
    /// Handlers that did all their work although the call had died first.
    public var ranToCompletionAfterDeath: Int
    /// Handler time after death, ms.
    public var totalMilliseconds: Double
    /// Handler time after death per handler, µs.
    public var perHandlerMicroseconds: LatencySummary

    /// Creates a value with every field given.
    public init(
        hop: Int,
        handlers: Int,
        handlersPastDeath: Int,
        ranToCompletionAfterDeath: Int,
        totalMilliseconds: Double,
        perHandlerMicroseconds: LatencySummary
    ) {
        self.hop = hop
        self.handlers = handlers
        self.handlersPastDeath = handlersPastDeath
        self.ranToCompletionAfterDeath = ranToCompletionAfterDeath
        self.totalMilliseconds = totalMilliseconds
        self.perHandlerMicroseconds = perHandlerMicroseconds
    }
}
