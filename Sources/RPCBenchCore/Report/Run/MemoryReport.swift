/// Resident memory (`VmRSS`) of this process and of the serving process (the same process when embedded).
public struct MemoryReport: Sendable, Codable, Hashable {
    /// This process after warm-up, bytes.
    public var rssBeforeBytes: Int
    /// This process after the run and the drain, bytes.
    public var rssAfterBytes: Int
    /// After / before.
    public var rssRatio: Double
    /// This process's peak (`VmHWM`), bytes.
    public var peakRSSBytes: Int
    /// The serving process after warm-up, bytes.
    public var serverRSSBeforeBytes: Int
    /// The serving process after the run, bytes.
    public var serverRSSAfterBytes: Int
    /// After / before.
    public var serverRSSRatio: Double
    /// The serving process's peak, bytes.
    public var serverPeakRSSBytes: Int

    /// Creates a value with every field given.
    public init(
        rssBeforeBytes: Int,
        rssAfterBytes: Int,
        rssRatio: Double,
        peakRSSBytes: Int,
        serverRSSBeforeBytes: Int,
        serverRSSAfterBytes: Int,
        serverRSSRatio: Double,
        serverPeakRSSBytes: Int
    ) {
        self.rssBeforeBytes = rssBeforeBytes
        self.rssAfterBytes = rssAfterBytes
        self.rssRatio = rssRatio
        self.peakRSSBytes = peakRSSBytes
        self.serverRSSBeforeBytes = serverRSSBeforeBytes
        self.serverRSSAfterBytes = serverRSSAfterBytes
        self.serverRSSRatio = serverRSSRatio
        self.serverPeakRSSBytes = serverPeakRSSBytes
    }
}
