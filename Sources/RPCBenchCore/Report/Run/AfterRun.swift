/// The servers after the whole run, once the bench waited (bounded) for every handler to return.
public struct AfterRun: Sendable, Codable, Hashable {
    /// Handlers in flight at each hop (must be 0).
    public var handlersInFlightByHop: [Int]
    /// Their sum.
    public var handlersInFlight: Int
    /// Stragglers running now, by hop.
    public var stragglersNowByHop: [Int]
    /// Stragglers ever, by hop.
    public var stragglersTotalByHop: [Int]
    /// Calls shed, by hop.
    public var shedCallsByHop: [Int]
    /// Calls refused, by hop.
    public var refusedCallsByHop: [Int]
    /// Calls started, by hop.
    public var callsStartedByHop: [Int]
    /// Calls finished, by hop.
    public var callsFinishedByHop: [Int]
    /// Whether every hop reached 0 handlers in flight within the wait.
    public var drained: Bool
    /// How long that took, ms.
    public var drainMilliseconds: Double

    /// Creates a value with every field given.
    public init(
        handlersInFlightByHop: [Int],
        handlersInFlight: Int,
        stragglersNowByHop: [Int],
        stragglersTotalByHop: [Int],
        shedCallsByHop: [Int],
        refusedCallsByHop: [Int],
        callsStartedByHop: [Int],
        callsFinishedByHop: [Int],
        drained: Bool,
        drainMilliseconds: Double
    ) {
        self.handlersInFlightByHop = handlersInFlightByHop
        self.handlersInFlight = handlersInFlight
        self.stragglersNowByHop = stragglersNowByHop
        self.stragglersTotalByHop = stragglersTotalByHop
        self.shedCallsByHop = shedCallsByHop
        self.refusedCallsByHop = refusedCallsByHop
        self.callsStartedByHop = callsStartedByHop
        self.callsFinishedByHop = callsFinishedByHop
        self.drained = drained
        self.drainMilliseconds = drainMilliseconds
    }
}
