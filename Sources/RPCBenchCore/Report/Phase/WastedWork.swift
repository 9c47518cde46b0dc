/// Handler time spent after the call was already dead (after the client's cancel, the deadline instant or the
/// close): at a hop that forwards, the time spent waiting on the next hop; at the last hop, the work itself.
public struct WastedWork: Sendable, Codable {
    /// All hops, ms.
    public var totalMilliseconds: Double
    /// Hops 2 and later, ms (what propagation is for).
    public var beyondFirstHopMilliseconds: Double
    /// Per hop.
    public var byHop: [HopWaste]
    /// Per storm kind (all hops).
    public var byKind: [String: KindWaste]

    /// Creates a value with every field given.
    public init(
        totalMilliseconds: Double,
        beyondFirstHopMilliseconds: Double,
        byHop: [HopWaste],
        byKind: [String: KindWaste]
    ) {
        self.totalMilliseconds = totalMilliseconds
        self.beyondFirstHopMilliseconds = beyondFirstHopMilliseconds
        self.byHop = byHop
        self.byKind = byKind
    }

    /// Nothing measured.
    public static func empty(hops: Int) -> WastedWork {
        WastedWork(
            totalMilliseconds: 0,
            beyondFirstHopMilliseconds: 0,
            byHop: (1...max(1, hops)).map {
                HopWaste(hop: $0, handlers: 0, handlersPastDeath: 0, ranToCompletionAfterDeath: 0, totalMilliseconds: 0, perHandlerMicroseconds: LatencySummary())
            },
            byKind: [:]
        )
    }
}
