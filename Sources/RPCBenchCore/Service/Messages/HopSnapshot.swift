import DeadlineRPC

/// One server's live counters (``ServerStats``), as the stats method reports them.
public struct HopSnapshot: Sendable, Codable, Hashable {
    /// The hop (1 = the server clients call).
    public var hop: Int
    /// The port it listens on.
    public var port: Int
    /// Calls accepted.
    public var callsStarted: Int
    /// Calls ended.
    public var callsFinished: Int
    /// Handler tasks running now (the stats call's own handler excluded).
    public var handlersInFlight: Int
    /// Handlers running now past the straggler grace period.
    public var stragglersNow: Int
    /// Handlers that ever became stragglers.
    public var stragglersTotal: Int
    /// Calls answered without running the handler (budget spent).
    public var shedCalls: Int
    /// Calls refused at the stream limit.
    public var refusedCalls: Int
    /// Connections open now.
    public var connections: Int

    /// Creates a snapshot from counters a server of another stack keeps itself (Benchmarks/PeerStorm); what that
    /// stack does not have (stragglers, shed and refused calls) is 0.
    public init(
        hop: Int,
        port: Int,
        callsStarted: Int,
        callsFinished: Int,
        handlersInFlight: Int,
        stragglersNow: Int = 0,
        stragglersTotal: Int = 0,
        shedCalls: Int = 0,
        refusedCalls: Int = 0,
        connections: Int = 0
    ) {
        self.hop = hop
        self.port = port
        self.callsStarted = callsStarted
        self.callsFinished = callsFinished
        self.handlersInFlight = handlersInFlight
        self.stragglersNow = stragglersNow
        self.stragglersTotal = stragglersTotal
        self.shedCalls = shedCalls
        self.refusedCalls = refusedCalls
        self.connections = connections
    }

    /// Copies a server's stats.
    public init(hop: Int, port: Int, stats: ServerStats, excludingHandlers: Int = 0) {
        self.hop = hop
        self.port = port
        self.callsStarted = stats.callsStarted
        self.callsFinished = stats.callsFinished
        self.handlersInFlight = max(0, stats.handlersInFlight - excludingHandlers)
        self.stragglersNow = stats.stragglersNow
        self.stragglersTotal = stats.stragglersTotal
        self.shedCalls = stats.shedCalls
        self.refusedCalls = stats.refusedCalls
        self.connections = stats.connections
    }
}
