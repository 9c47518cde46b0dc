/// The request of the stats method.
public struct StatsRequest: Sendable, Codable, Hashable {
    /// Whether to return the allocator's free memory to the system before reading RSS (for before/after
    /// readings; too slow for polling).
    public var trimMemory: Bool

    /// Creates the request.
    public init(trimMemory: Bool = false) {
        self.trimMemory = trimMemory
    }
}
