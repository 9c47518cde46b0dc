/// Calls whose handler returned `OK` while their reply (messages, then `CALL_END`) still waits in the outbound
/// scheduler for credit or writability.
///
/// The handler is done and the stream's entry is released, but on the wire the call is still open: its deadline
/// still applies (PROTOCOL.md §10.3), and its end is recorded in the metrics only once its `CALL_END` is written or
/// it ends otherwise. Only replies that could not be written at once land here, so a call whose reply fits its
/// credit (nearly every one) never touches this. Confined to the connection's event loop.
struct QueuedReplies {
    private struct Entry {
        let stream: ServerStream
        /// The call's deadline in uptime nanoseconds, if it has one.
        let deadline: Int64?
    }

    private var entries: [UInt32: Entry] = [:]

    var isEmpty: Bool { self.entries.isEmpty }
    var count: Int { self.entries.count }

    /// Tracks a stream whose `CALL_END(OK)` is queued behind data.
    mutating func insert(_ stream: ServerStream, deadline: Int64?) {
        self.entries[stream.id] = Entry(stream: stream, deadline: deadline)
    }

    /// Stops tracking a stream (its reply was written, dropped, or its connection closed); nil if not tracked.
    mutating func remove(_ streamID: UInt32) -> ServerStream? {
        self.entries.removeValue(forKey: streamID)?.stream
    }

    /// The earliest deadline among the tracked replies. Linear, but there are only as many entries as replies
    /// stuck behind flow control right now.
    var earliestDeadline: Int64? {
        self.entries.values.compactMap(\.deadline).min()
    }

    /// Removes and returns the replies whose deadline is at or before `now`.
    mutating func removeExpired(now: Int64) -> [ServerStream] {
        let due = self.entries.values.filter { ($0.deadline ?? .max) <= now }.map(\.stream)
        for stream in due { self.entries.removeValue(forKey: stream.id) }
        return due.sorted { $0.id < $1.id }
    }

    /// Removes and returns every tracked reply.
    mutating func removeAll() -> [ServerStream] {
        defer { self.entries.removeAll() }
        return self.entries.values.map(\.stream).sorted { $0.id < $1.id }
    }
}
