/// One storm call as the client saw it: when it died (the cancel, the deadline instant, the close) and how it
/// ended.
public struct StormCallRecord: Sendable, Hashable {
    /// The tag the handlers recorded too.
    public var tag: UInt64
    /// The kind of storm call.
    public var kind: StormKind
    /// When the call became dead (``BenchClock`` nanoseconds): the instant just before the client cancelled its
    /// task or closed its client, or the deadline instant (read just before the call, so never later than the
    /// runtime's own deadline).
    public var deadAt: Int64
    /// The status code it ended with (`ok` if the work finished first).
    public var outcome: String

    /// Creates a record.
    public init(tag: UInt64, kind: StormKind, deadAt: Int64, outcome: String) {
        self.tag = tag
        self.kind = kind
        self.deadAt = deadAt
        self.outcome = outcome
    }
}
