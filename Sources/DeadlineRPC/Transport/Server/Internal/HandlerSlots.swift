import NIOCore

/// The handler slots of one server connection, as a pure value: at no instant do more than `limit` handlers run,
/// counting handlers of ended calls that are still winding down; a call whose handler may start while every slot
/// is taken waits in a FIFO until one frees. This bounds rapid reset by work instead of refusing calls a legitimate
/// client (which counts a cancelled call closed at once) is entitled to start.
struct HandlerSlots {
    /// Most handlers running at once.
    let limit: Int
    /// Handlers running, winding-down ones included.
    private(set) var running = 0
    /// Running handlers whose call already ended (cancelled, winding down): they hold a handler slot but not a
    /// stream slot, since the client already counts their calls closed.
    private(set) var windingDown = 0
    /// Streams whose handler waits for a slot, oldest first. Ids of calls that ended meanwhile stay until popped
    /// (the caller skips them) or compacted away.
    private var waiting = CircularBuffer<UInt32>()

    /// No handler running.
    init(limit: Int) {
        self.limit = limit
    }

    /// Ids queued, live or not (for tests of the compaction).
    var waitingCount: Int { self.waiting.count }

    /// A new handler may start at once: a slot is free and nobody older waits for one.
    var canStartNow: Bool { self.running < self.limit && self.waiting.isEmpty }

    /// Queues `streamID` for the next free slot. Live waiters are at most the open calls (≤ the limit), so a longer
    /// queue is mostly ids of calls that ended while waiting: it is compacted to those `isWaiting` still holds,
    /// or start-and-cancel while every slot is taken would grow it without bound.
    mutating func enqueue(_ streamID: UInt32, isWaiting: (UInt32) -> Bool) {
        self.waiting.append(streamID)
        if self.waiting.count > 2 * self.limit + 16 {
            self.waiting = CircularBuffer(self.waiting.filter(isWaiting))
        }
    }

    /// The oldest queued id if a slot is free, nil otherwise. The caller skips ids of calls no longer waiting and
    /// calls ``started()`` for the one it starts.
    mutating func nextWaiter() -> UInt32? {
        guard self.running < self.limit else { return nil }
        return self.waiting.popFirst()
    }

    /// A handler started: it takes a slot.
    mutating func started() {
        self.running += 1
    }

    /// The call of a running handler ended; the handler winds down in its slot.
    mutating func callEndedWhileRunning() {
        self.windingDown += 1
    }

    /// A handler returned, winding down (`wasWindingDown`) or not: its slot is free.
    mutating func returned(wasWindingDown: Bool) {
        self.running -= 1
        if wasWindingDown { self.windingDown -= 1 }
    }
}
