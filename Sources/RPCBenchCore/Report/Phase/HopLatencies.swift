/// A latency measured at each hop of the chain, µs.
public struct HopLatencies: Sendable, Codable {
    /// Hop 1 (the server the client called): single-hop and chain calls.
    public var firstHop: LatencySummary
    /// The last hop (chain calls only; the same as the first hop when there is one hop).
    public var lastHop: LatencySummary
    /// Every hop, first first.
    public var byHop: [LatencySummary]
    /// Handlers, by hop, that had started before the call died and never saw it (ran on: the leak).
    public var neverCancelledByHop: [Int]
    /// Handlers, by hop, that stopped short of their work after the death although this instant was never taken:
    /// a forwarding hop whose outbound call failed at the shared deadline first (it stopped; it did not leak).
    public var stoppedUnmeasuredByHop: [Int]
    /// The first hop's distribution, for plots.
    public var firstHopCurve: [CurvePoint]
    /// The last hop's distribution, for plots.
    public var lastHopCurve: [CurvePoint]

    /// Creates a value with every field given.
    public init(
        firstHop: LatencySummary,
        lastHop: LatencySummary,
        byHop: [LatencySummary],
        neverCancelledByHop: [Int],
        stoppedUnmeasuredByHop: [Int],
        firstHopCurve: [CurvePoint],
        lastHopCurve: [CurvePoint]
    ) {
        self.firstHop = firstHop
        self.lastHop = lastHop
        self.byHop = byHop
        self.neverCancelledByHop = neverCancelledByHop
        self.stoppedUnmeasuredByHop = stoppedUnmeasuredByHop
        self.firstHopCurve = firstHopCurve
        self.lastHopCurve = lastHopCurve
    }

    /// Nothing measured.
    public static func empty(hops: Int) -> HopLatencies {
        HopLatencies(
            firstHop: LatencySummary(),
            lastHop: LatencySummary(),
            byHop: Array(repeating: LatencySummary(), count: max(1, hops)),
            neverCancelledByHop: Array(repeating: 0, count: max(1, hops)),
            stoppedUnmeasuredByHop: Array(repeating: 0, count: max(1, hops)),
            firstHopCurve: [],
            lastHopCurve: []
        )
    }
}
