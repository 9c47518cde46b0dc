import Testing

@testable import DeadlineRPC

/// A queued thing with a name.
private final class Item: DeadlineQueueEntry, CustomStringConvertible {
    let name: Int
    var deadlineQueueIndex = -1
    init(_ name: Int) { self.name = name }
    var description: String { "#\(self.name)" }
}

@Suite("DeadlineQueue: one timer per connection, O(1) or O(log n) removal", .timeLimit(.minutes(5)))
struct DeadlineQueueTests {
    @Test("The timer is armed for the first deadline and re-armed only when a new one is earlier")
    func arming() {
        var queue = DeadlineQueue<Item>()
        let a = Item(1), b = Item(2), c = Item(3)
        #expect(queue.insert(a, deadline: 100) == 100)
        #expect(queue.insert(b, deadline: 200) == nil, "later than the armed timer: no re-arm")
        #expect(queue.insert(c, deadline: 50) == 50, "earlier: re-arm")
        #expect(queue.armedAt == 50)
        #expect(queue.earliest == 50)
    }

    @Test("An entry queued while the timer is disarmed arms it for the earliest deadline, not its own")
    func armingAfterFire() {
        var queue = DeadlineQueue<Item>()
        let a = Item(1), b = Item(2), c = Item(3)
        _ = queue.insert(a, deadline: 10)
        _ = queue.insert(b, deadline: 90)
        #expect(queue.timerFired(now: 20).map(\.name) == [1])
        // Handling the due entry queues another, later one: the timer must still go off at 90.
        #expect(queue.insert(c, deadline: 300) == 90)
        #expect(queue.nextArm() == nil)
    }

    @Test("A fired timer returns what is due in deadline order and where to re-arm")
    func firing() {
        var queue = DeadlineQueue<Item>()
        let items = (0..<5).map(Item.init)
        for (index, item) in items.enumerated() { _ = queue.insert(item, deadline: Int64(100 - index * 10)) }
        let expired = queue.timerFired(now: 85)
        #expect(expired.map(\.name) == [4, 3, 2])
        #expect(expired.allSatisfy { $0.deadlineQueueIndex == -1 })
        #expect(queue.nextArm() == 90)
        #expect(queue.armedAt == 90)
        #expect(queue.nextArm() == nil, "already armed")
        let rest = queue.timerFired(now: 1_000)
        #expect(rest.map(\.name) == [1, 0])
        #expect(queue.nextArm() == nil)
        #expect(queue.armedAt == nil)
        #expect(queue.count == 0)
    }

    @Test("Removing entries leaves the rest in order; a removed entry is never returned; removal is idempotent")
    func removal() {
        var queue = DeadlineQueue<Item>()
        let items = (0..<8).map(Item.init)
        for item in items { _ = queue.insert(item, deadline: Int64(item.name * 10)) }
        queue.remove(items[0])  // the earliest: the armed timer stays, finds nothing due, re-arms
        queue.remove(items[5])
        queue.remove(items[5])
        #expect(items[5].deadlineQueueIndex == -1)
        #expect(queue.timerFired(now: 0).isEmpty)
        #expect(queue.nextArm() == 10)
        #expect(queue.timerFired(now: 1_000).map(\.name) == [1, 2, 3, 4, 6, 7])
    }

    @Test("Random inserts, removals and firings agree with a sorted reference, and every index stays right")
    func randomized() {
        var generator = SeededGenerator(seed: 42)
        // Plain comparisons collected into one list, checked once: thousands of #expect calls would hog a test thread.
        var mismatches: [String] = []
        for round in 0..<100 {
            var queue = DeadlineQueue<Item>()
            var reference: [(deadline: Int64, item: Item)] = []
            var now: Int64 = 0
            var nextName = 0
            for step in 0..<200 {
                switch Int.random(in: 0..<10, using: &generator) {
                case 0..<5:
                    let item = Item(nextName)
                    nextName += 1
                    let deadline = now + Int64.random(in: 0...1_000, using: &generator)
                    _ = queue.insert(item, deadline: deadline)
                    reference.append((deadline, item))
                case 5..<8:
                    guard !reference.isEmpty else { continue }
                    let victim = reference.remove(at: Int.random(in: 0..<reference.count, using: &generator))
                    queue.remove(victim.item)
                    if victim.item.deadlineQueueIndex != -1 { mismatches.append("\(round).\(step): removed entry still indexed") }
                default:
                    now += Int64.random(in: 0...300, using: &generator)
                    mismatches += Self.fire(&queue, &reference, now: now, at: "\(round).\(step)")
                }
                mismatches += Self.agree(queue, reference, at: "\(round).\(step)")
                if let armed = queue.armedAt, let earliest = queue.earliest, armed > earliest { mismatches.append("\(round).\(step): timer armed after the earliest deadline") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test("Deadlines mostly in order (equal budgets) mixed with earlier ones agree with a sorted reference, removal by index included")
    func mostlyInOrder() {
        var generator = SeededGenerator(seed: 7)
        var mismatches: [String] = []
        for round in 0..<100 {
            var queue = DeadlineQueue<Item>()
            var reference: [(deadline: Int64, item: Item)] = []
            var now: Int64 = 0
            var nextName = 0
            for step in 0..<400 {
                switch Int.random(in: 0..<20, using: &generator) {
                case 0..<9:
                    // The common case: the same budget from now (FIFO); now and then a shorter one (heap).
                    let item = Item(nextName)
                    nextName += 1
                    let shorter = Int.random(in: 0..<6, using: &generator) == 0
                    let deadline = now + (shorter ? Int64.random(in: 0...400, using: &generator) : 500)
                    _ = queue.insert(item, deadline: deadline)
                    reference.append((deadline, item))
                case 9..<14:
                    guard !reference.isEmpty else { continue }
                    // Calls mostly end in the order they started: remove from the front more often than elsewhere.
                    let position = Int.random(in: 0..<3, using: &generator) == 0 ? Int.random(in: 0..<reference.count, using: &generator) : 0
                    let victim = reference.remove(at: position)
                    if Bool.random(using: &generator) {
                        queue.remove(victim.item)
                    } else {
                        queue.remove(atIndex: victim.item.deadlineQueueIndex)
                    }
                    if victim.item.deadlineQueueIndex != -1 { mismatches.append("\(round).\(step): removed entry still indexed") }
                case 14..<19:
                    now += Int64.random(in: 0...60, using: &generator)
                default:
                    mismatches += Self.fire(&queue, &reference, now: now, at: "\(round).\(step)")
                }
                mismatches += Self.agree(queue, reference, at: "\(round).\(step)")
            }
            queue.removeAll()
            if reference.contains(where: { $0.item.deadlineQueueIndex != -1 }) { mismatches.append("\(round): removeAll left an index") }
            if queue.count != 0 || queue.earliest != nil { mismatches.append("\(round): removeAll left entries") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test("Holes left by calls that ended are dropped: a long run of in-order calls keeps the queue's storage small")
    func holesAreDropped() {
        var queue = DeadlineQueue<Item>()
        var live: [Item] = []
        // 64 calls in flight at a time, 100 000 in all, each ending before its deadline, mostly in order.
        for name in 0..<100_000 {
            let item = Item(name)
            _ = queue.insert(item, deadline: Int64(name) + 1_000)
            live.append(item)
            if live.count > 64 { queue.remove(live.removeFirst()) }
        }
        #expect(queue.count == 64)
        #expect(queue.storedSlots <= 256, "\(queue.storedSlots) slots held for 64 calls")
        #expect(queue.timerFired(now: 200_000).map(\.name) == Array(99_936..<100_000))
    }

    /// Fires the timer at `now` on both the queue and the sorted reference; what disagrees, labelled `step`.
    private static func fire(
        _ queue: inout DeadlineQueue<Item>,
        _ reference: inout [(deadline: Int64, item: Item)],
        now: Int64,
        at step: String
    ) -> [String] {
        var mismatches: [String] = []
        let due = reference.filter { $0.deadline <= now }
        reference.removeAll { $0.deadline <= now }
        let expired = queue.timerFired(now: now)
        let deadlines = expired.map { item in due.first { $0.item === item }?.deadline ?? -1 }
        if Set(expired.map(\.name)) != Set(due.map(\.item.name)) { mismatches.append("\(step): wrong entries due") }
        if deadlines != deadlines.sorted() { mismatches.append("\(step): due entries out of order") }
        if expired.contains(where: { $0.deadlineQueueIndex != -1 }) { mismatches.append("\(step): expired entry still indexed") }
        if queue.nextArm() != reference.map(\.deadline).min() { mismatches.append("\(step): wrong re-arm") }
        return mismatches
    }

    /// Whether the queue's count and earliest deadline match the reference's.
    private static func agree(_ queue: DeadlineQueue<Item>, _ reference: [(deadline: Int64, item: Item)], at step: String) -> [String] {
        queue.count == reference.count && queue.earliest == reference.map(\.deadline).min()
            ? [] : ["\(step): queue and reference disagree"]
    }
}
