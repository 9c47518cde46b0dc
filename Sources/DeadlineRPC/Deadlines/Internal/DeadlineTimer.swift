import NIOCore

/// One connection's deadlines behind one timer: a ``DeadlineQueue`` plus the single task scheduled on the event
/// loop for the earliest of them, with the time read from that loop (`eventLoop.now`), so a loop with a manual
/// clock drives deadlines and "now" alike.
///
/// Stored inline in its owner; the owner passes the job to run when the timer fires each time it arms it, so the
/// timer holds no reference to its owner between firings. Confined to the event loop.
struct DeadlineTimer<Entry: DeadlineQueueEntry> {
    private var queue = DeadlineQueue<Entry>()
    private var scheduled: Scheduled<Void>?
    private let eventLoop: any EventLoop

    /// An empty queue on `eventLoop`, whose clock it reads.
    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Deadlines queued (for diagnostics).
    var count: Int { self.queue.count }

    /// Now on the loop's clock, in uptime nanoseconds.
    var now: Int64 { Int64(self.eventLoop.now.uptimeNanoseconds) }

    /// Queues `entry` for `deadline` (uptime nanoseconds). Returns when to arm the timer if it must be (re)armed
    /// (pass it to ``arm(at:_:)``), nil when the armed timer already fires in time.
    mutating func insert(_ entry: Entry, deadline: Int64) -> Int64? {
        self.queue.insert(entry, deadline: deadline)
    }

    /// Forgets `entry`'s deadline (a no-op when it is not queued).
    mutating func remove(_ entry: Entry) {
        self.queue.remove(entry)
    }

    /// (Re)arms the one timer for `uptimeNanoseconds`; `fire` runs on the loop then, and calls ``fired()``.
    mutating func arm(at uptimeNanoseconds: Int64, _ fire: @escaping () -> Void) {
        self.scheduled?.cancel()
        let when = NIODeadline.uptimeNanoseconds(UInt64(max(0, uptimeNanoseconds)))
        self.scheduled = self.eventLoop.assumeIsolated().scheduleTask(deadline: when, fire)
    }

    /// The timer fired: removes and returns the entries whose deadline came. Arm again at ``nextArm()``.
    mutating func fired() -> [Entry] {
        self.scheduled = nil
        return self.queue.timerFired(now: self.now)
    }

    /// When to arm the timer next, if anything is queued.
    mutating func nextArm() -> Int64? {
        self.queue.nextArm()
    }

    /// Cancels the timer and forgets every deadline (the connection is done).
    mutating func cancelAll() {
        self.scheduled?.cancel()
        self.scheduled = nil
        self.queue.removeAll()
    }
}
