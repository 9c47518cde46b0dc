/// What one handler did, by the shared clock: recorded for every tracked (tag ≠ 0) call at every hop.
public struct HandlerRecord: Sendable, Hashable, Codable {
    /// The call's tag.
    public var tag: UInt64
    /// The hop that ran the handler (1 = the server the client called).
    public var hop: Int
    /// When the handler started.
    public var startedAt: Int64
    /// When the handler's task was cancelled (its cancellation handler ran); 0 if it never was.
    public var cancelledAt: Int64
    /// When the handler's own code noticed (work loop or forwarded call returned); 0 if it never did.
    public var observedAt: Int64
    /// When the handler returned.
    public var endedAt: Int64
    /// Whether it did all its work (or, when forwarding, got the next hop's answer).
    public var completed: Bool

    /// Creates a record.
    public init(
        tag: UInt64,
        hop: Int,
        startedAt: Int64,
        cancelledAt: Int64,
        observedAt: Int64,
        endedAt: Int64,
        completed: Bool
    ) {
        self.tag = tag
        self.hop = hop
        self.startedAt = startedAt
        self.cancelledAt = cancelledAt
        self.observedAt = observedAt
        self.endedAt = endedAt
        self.completed = completed
    }
}
