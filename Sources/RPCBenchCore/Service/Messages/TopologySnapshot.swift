/// Every hop's counters and the serving process's memory, at one instant.
public struct TopologySnapshot: Sendable, Codable, Hashable {
    /// One entry per hop, first hop first.
    public var hops: [HopSnapshot]
    /// The serving process's resident set size, in bytes.
    public var rssBytes: Int
    /// The serving process's peak resident set size, in bytes.
    public var peakRSSBytes: Int
    /// The serving process's ``BenchClock`` reading when the snapshot was taken.
    public var clockNanoseconds: Int64

    /// Creates a snapshot.
    public init(hops: [HopSnapshot], rssBytes: Int, peakRSSBytes: Int, clockNanoseconds: Int64) {
        self.hops = hops
        self.rssBytes = rssBytes
        self.peakRSSBytes = peakRSSBytes
        self.clockNanoseconds = clockNanoseconds
    }

    /// Handler tasks running at every hop together.
    public var handlersInFlight: Int { self.hops.reduce(0) { $0 + $1.handlersInFlight } }
}
