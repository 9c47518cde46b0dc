/// Something whose deadline a ``DeadlineQueue`` tracks; the queue keeps `deadlineQueueIndex` up to date (-1 when the
/// entry is not queued), which is what makes removal O(log n).
protocol DeadlineQueueEntry: AnyObject {
    var deadlineQueueIndex: Int { get set }
}

/// The deadlines of one connection's calls, behind a single event-loop timer armed for the earliest.
///
/// Why not one NIO timer per call: NIO cancels a scheduled task by searching its heap linearly, so with 10 000 calls in
/// flight every call that ended before its deadline cost O(n), and cancelling them all O(n²) (measured by
/// `inflight-bench`: 2.4 s to drain 10 000 cancels). Here an ended call leaves in O(1) or O(log n), and the one timer is
/// re-armed only when a new call's deadline is earlier than the armed one — with equal budgets, almost never.
///
/// Two structures: calls mostly arrive with deadlines in order (equal budgets from one caller), and those go to a FIFO
/// where removal leaves a hole (O(1), no sift, no index updates of other entries — each of which, for a client call,
/// is a checked access to event-loop-bound state); a deadline earlier than the FIFO's last goes to a binary heap.
/// Holes at the FIFO's head are dropped as they surface; between live entries they are bounded by the calls started
/// before the oldest live one's deadline.
///
/// An entry's `deadlineQueueIndex` is its heap index (≥ 0), or `-2 - n` for FIFO sequence number `n`, or -1.
///
/// Pure: time is passed in as uptime nanoseconds, and the I/O layer schedules the timer the queue asks for.
struct DeadlineQueue<Entry: DeadlineQueueEntry> {
    private struct Slot {
        var deadline: Int64
        var entry: Entry
    }

    private var heap: [Slot] = []
    /// In deadline order; `nil` is a removed entry's hole. `fifo[i]` has sequence number `fifoBase + i`.
    private var fifo: [Slot?] = []
    /// Holes before this position are dropped (not yet compacted away).
    private var fifoHead = 0
    private var fifoBase = 0
    private var fifoLive = 0
    /// When the I/O layer's timer will fire, if one is armed.
    private(set) var armedAt: Int64?

    init() {}

    /// Entries queued.
    var count: Int { self.heap.count + self.fifoLive }

    /// Slots held, holes included (for tests of the holes' bound).
    var storedSlots: Int { self.heap.count + self.fifo.count - self.fifoHead }

    /// The earliest queued deadline.
    var earliest: Int64? {
        let fifoFirst = self.fifoHead < self.fifo.count ? self.fifo[self.fifoHead]?.deadline : nil
        switch (self.heap.first?.deadline, fifoFirst) {
        case let (heap?, fifo?): return min(heap, fifo)
        case let (heap, fifo): return heap ?? fifo
        }
    }

    /// Queues `entry`; returns the instant to (re-)arm the timer at when it must move earlier (cancel the old one).
    mutating func insert(_ entry: Entry, deadline: Int64) -> Int64? {
        precondition(entry.deadlineQueueIndex == -1, "an entry is queued at most once")
        if self.fifo.last.map({ $0.map { deadline >= $0.deadline } ?? false }) ?? true {
            // In order (or the FIFO is empty): append. A hole at the tail is never the last element (trimmed).
            entry.deadlineQueueIndex = -2 - (self.fifoBase + self.fifo.count)
            self.fifo.append(Slot(deadline: deadline, entry: entry))
            self.fifoLive += 1
        } else {
            self.heap.append(Slot(deadline: deadline, entry: entry))
            entry.deadlineQueueIndex = self.heap.count - 1
            self.siftUp(self.heap.count - 1)
        }
        let earliest = self.earliest!
        if let armedAt = self.armedAt, armedAt <= earliest { return nil }
        self.armedAt = earliest
        return earliest
    }

    /// Removes `entry` if it is queued (a call that ended before its deadline). The armed timer is left alone: when it
    /// fires early it finds nothing due and re-arms for the earliest remaining deadline.
    mutating func remove(_ entry: Entry) {
        let index = entry.deadlineQueueIndex
        guard index != -1 else { return }
        precondition(self.slot(at: index)?.entry === entry, "entry is in another queue")
        self.removeSlot(at: index)
    }

    /// Removes the entry queued at `index` (its ``DeadlineQueueEntry/deadlineQueueIndex``), for owners that hold the
    /// index but not the entry.
    mutating func remove(atIndex index: Int) {
        guard index != -1 else { return }
        precondition(self.slot(at: index)?.entry.deadlineQueueIndex == index, "stale index")
        self.removeSlot(at: index)
    }

    /// The timer fired at `now`: returns every entry whose deadline has come, in deadline order (each is no longer
    /// queued). Handle them, then ask ``nextArm()`` where to arm the timer next.
    mutating func timerFired(now: Int64) -> [Entry] {
        self.armedAt = nil
        var expired: [Entry] = []
        while true {
            let heapFirst = self.heap.first?.deadline
            let fifoFirst = self.fifoHead < self.fifo.count ? self.fifo[self.fifoHead]?.deadline : nil
            if let fifoFirst, fifoFirst <= now, heapFirst.map({ fifoFirst <= $0 }) ?? true {
                expired.append(self.fifo[self.fifoHead]!.entry)
                self.removeSlot(at: -2 - (self.fifoBase + self.fifoHead))
            } else if let heapFirst, heapFirst <= now {
                expired.append(self.heap[0].entry)
                self.removeSlot(at: 0)
            } else {
                return expired
            }
        }
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
        for slot in self.fifo[self.fifoHead...] { slot?.entry.deadlineQueueIndex = -1 }
        self.heap.removeAll()
        self.fifoBase += self.fifo.count
        self.fifo.removeAll()
        self.fifoHead = 0
        self.fifoLive = 0
        self.armedAt = nil
    }

    private func slot(at index: Int) -> Slot? {
        if index >= 0 { return index < self.heap.count ? self.heap[index] : nil }
        let position = -2 - index - self.fifoBase
        guard position >= self.fifoHead && position < self.fifo.count else { return nil }
        return self.fifo[position]
    }

    private mutating func removeSlot(at index: Int) {
        if index < 0 {
            let position = -2 - index - self.fifoBase
            self.fifo[position]!.entry.deadlineQueueIndex = -1
            self.fifo[position] = nil
            self.fifoLive -= 1
            self.trimFIFO()
            return
        }
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

    /// Drops holes at both ends; compacts when the dropped head outweighs the rest (amortized O(1)).
    private mutating func trimFIFO() {
        while self.fifo.count > self.fifoHead && self.fifo[self.fifo.count - 1] == nil { self.fifo.removeLast() }
        while self.fifoHead < self.fifo.count && self.fifo[self.fifoHead] == nil { self.fifoHead += 1 }
        if self.fifoHead == self.fifo.count {
            self.fifoBase += self.fifo.count
            self.fifo.removeAll(keepingCapacity: true)
            self.fifoHead = 0
        } else if self.fifoHead >= 64 && self.fifoHead * 2 >= self.fifo.count {
            self.fifo.removeFirst(self.fifoHead)
            self.fifoBase += self.fifoHead
            self.fifoHead = 0
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
