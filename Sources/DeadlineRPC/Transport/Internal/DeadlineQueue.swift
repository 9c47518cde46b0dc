/// Something whose deadline a ``DeadlineQueue`` tracks; the queue keeps `deadlineQueueIndex` up to date (-1 when the
/// entry is not queued), which is what makes removal O(log n).
protocol DeadlineQueueEntry: AnyObject {
    var deadlineQueueIndex: Int { get set }
}

/// The deadlines of one connection's calls, behind a single event-loop timer armed for the earliest.
///
/// Why not one NIO timer per call: NIO cancels a scheduled task by searching its heap linearly, so with 10 000 calls in
/// flight every call that ended before its deadline cost O(n), and cancelling them all O(n²) (measured by
/// `inflight-bench`: 2.4 s to drain 10 000 cancels). Here an ended call leaves in O(log n), and the one timer is re-armed
/// only when a new call's deadline is earlier than the armed one — with equal budgets, almost never.
///
/// Pure: time is passed in as uptime nanoseconds, and the I/O layer schedules the timer the queue asks for.
struct DeadlineQueue<Entry: DeadlineQueueEntry> {
    private struct Slot {
        var deadline: Int64
        var entry: Entry
    }

    private var heap: [Slot] = []
    /// When the I/O layer's timer will fire, if one is armed.
    private(set) var armedAt: Int64?

    init() {}

    /// Entries queued.
    var count: Int { self.heap.count }

    /// The earliest queued deadline.
    var earliest: Int64? { self.heap.first?.deadline }

    /// Queues `entry`; returns the instant to (re-)arm the timer at when it must move earlier (cancel the old one).
    mutating func insert(_ entry: Entry, deadline: Int64) -> Int64? {
        precondition(entry.deadlineQueueIndex == -1, "an entry is queued at most once")
        self.heap.append(Slot(deadline: deadline, entry: entry))
        entry.deadlineQueueIndex = self.heap.count - 1
        self.siftUp(self.heap.count - 1)
        let earliest = self.heap[0].deadline
        if let armedAt = self.armedAt, armedAt <= earliest { return nil }
        self.armedAt = earliest
        return earliest
    }

    /// Removes `entry` if it is queued (a call that ended before its deadline). The armed timer is left alone: when it
    /// fires early it finds nothing due and re-arms for the earliest remaining deadline.
    mutating func remove(_ entry: Entry) {
        let index = entry.deadlineQueueIndex
        guard index >= 0 else { return }
        precondition(index < self.heap.count && self.heap[index].entry === entry, "entry is in another queue")
        self.removeSlot(at: index)
    }

    /// Removes the entry queued at `index` (its ``DeadlineQueueEntry/deadlineQueueIndex``), for owners that hold the
    /// index but not the entry.
    mutating func remove(atIndex index: Int) {
        guard index >= 0 else { return }
        precondition(index < self.heap.count && self.heap[index].entry.deadlineQueueIndex == index, "stale index")
        self.removeSlot(at: index)
    }

    /// The timer fired at `now`: returns every entry whose deadline has come, in deadline order (each is no longer
    /// queued). Handle them, then ask ``nextArm()`` where to arm the timer next.
    mutating func timerFired(now: Int64) -> [Entry] {
        self.armedAt = nil
        var expired: [Entry] = []
        while let first = self.heap.first, first.deadline <= now {
            expired.append(first.entry)
            self.removeSlot(at: 0)
        }
        return expired
    }

    /// Where to arm the timer after it fired, if anything is queued and no insert has armed it since.
    mutating func nextArm() -> Int64? {
        guard self.armedAt == nil, let earliest = self.earliest else { return nil }
        self.armedAt = earliest
        return earliest
    }

    /// Forgets the armed timer (the I/O layer cancelled it, e.g. when the connection closed).
    mutating func disarm() {
        self.armedAt = nil
    }

    /// Removes every entry (each is no longer queued) and forgets the timer.
    mutating func removeAll() {
        for slot in self.heap { slot.entry.deadlineQueueIndex = -1 }
        self.heap.removeAll()
        self.armedAt = nil
    }

    private mutating func removeSlot(at index: Int) {
        self.heap[index].entry.deadlineQueueIndex = -1
        let last = self.heap.count - 1
        if index != last {
            self.heap.swapAt(index, last)
            self.heap[index].entry.deadlineQueueIndex = index
        }
        self.heap.removeLast()
        if index < self.heap.count {
            self.siftDown(index)
            self.siftUp(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.heap[child].deadline < self.heap[parent].deadline else { return }
            self.swap(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < self.heap.count else { return }
            var smallest = left
            let right = left + 1
            if right < self.heap.count && self.heap[right].deadline < self.heap[left].deadline { smallest = right }
            guard self.heap[smallest].deadline < self.heap[parent].deadline else { return }
            self.swap(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        self.heap.swapAt(a, b)
        self.heap[a].entry.deadlineQueueIndex = a
        self.heap[b].entry.deadlineQueueIndex = b
    }
}
