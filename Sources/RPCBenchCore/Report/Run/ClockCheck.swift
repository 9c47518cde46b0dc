/// Whether the client's and the handlers' instants come from one monotonic clock.
public struct ClockCheck: Sendable, Codable, Hashable {
    /// True when embedded, or when the server's clock reading fell between two readings of ours.
    public var shared: Bool
    /// Server reading minus the midpoint of ours, µs.
    public var offsetMicroseconds: Double

    /// Creates a value with every field given.
    public init(
        shared: Bool,
        offsetMicroseconds: Double
    ) {
        self.shared = shared
        self.offsetMicroseconds = offsetMicroseconds
    }
}
