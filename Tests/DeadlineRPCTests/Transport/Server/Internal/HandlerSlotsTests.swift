import Testing

@testable import DeadlineRPC

/// Handler slots as a pure value.
@Suite("HandlerSlots")
struct HandlerSlotsTests {
    @Test("Handlers start at once until the limit; then calls wait, and start oldest first as slots free")
    func fifo() {
        var slots = HandlerSlots(limit: 2)
        #expect(slots.canStartNow)
        slots.started()
        slots.started()
        #expect(!slots.canStartNow)
        slots.enqueue(5) { _ in true }
        slots.enqueue(7) { _ in true }
        #expect(slots.nextWaiter() == nil)  // No free slot.
        slots.returned(wasWindingDown: false)
        #expect(!slots.canStartNow)  // A slot is free, but older calls wait for it.
        #expect(slots.nextWaiter() == 5)
        slots.started()
        #expect(slots.nextWaiter() == nil)
        slots.returned(wasWindingDown: false)
        #expect(slots.nextWaiter() == 7)
        slots.started()
        #expect(slots.running == 2)
    }

    @Test("A winding-down handler keeps its slot until it returns")
    func windingDown() {
        var slots = HandlerSlots(limit: 1)
        slots.started()
        slots.callEndedWhileRunning()
        #expect(slots.windingDown == 1)
        #expect(!slots.canStartNow)
        slots.returned(wasWindingDown: true)
        #expect(slots.windingDown == 0)
        #expect(slots.running == 0)
        #expect(slots.canStartNow)
    }

    @Test("A queue longer than twice the limit plus 16 is compacted to the calls still waiting")
    func compaction() {
        var slots = HandlerSlots(limit: 2)
        slots.started()
        slots.started()
        // Ids of calls cancelled while waiting pile up; only multiples of 10 still wait.
        for id in UInt32(1)...20 { slots.enqueue(id) { $0 % 10 == 0 } }
        #expect(slots.waitingCount == 20)
        slots.enqueue(21) { $0 % 10 == 0 }
        #expect(slots.waitingCount == 2)
        slots.returned(wasWindingDown: false)
        #expect(slots.nextWaiter() == 10)
    }
}
