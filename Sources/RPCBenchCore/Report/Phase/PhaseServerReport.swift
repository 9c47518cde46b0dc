/// Server counters over one phase (differences between the start and the end of the phase) and how long the
/// servers took to settle afterwards.
public struct PhaseServerReport: Sendable, Codable {
    /// Calls accepted, all hops.
    public var callsStarted: Int
    /// Calls ended, all hops.
    public var callsFinished: Int
    /// New stragglers, all hops.
    public var stragglers: Int
    /// Calls shed for a spent budget, all hops.
    public var shedCalls: Int
    /// Calls refused at the stream limit, all hops.
    public var refusedCalls: Int
    /// Time from the end of the phase until no handler was in flight, ms.
    public var settleMilliseconds: Double
    /// Handlers still in flight when the settle wait ended (0 unless it timed out).
    public var handlersInFlightAfterSettle: Int

    /// Creates a value with every field given.
    public init(
        callsStarted: Int,
        callsFinished: Int,
        stragglers: Int,
        shedCalls: Int,
        refusedCalls: Int,
        settleMilliseconds: Double,
        handlersInFlightAfterSettle: Int
    ) {
        self.callsStarted = callsStarted
        self.callsFinished = callsFinished
        self.stragglers = stragglers
        self.shedCalls = shedCalls
        self.refusedCalls = refusedCalls
        self.settleMilliseconds = settleMilliseconds
        self.handlersInFlightAfterSettle = handlersInFlightAfterSettle
    }
}
