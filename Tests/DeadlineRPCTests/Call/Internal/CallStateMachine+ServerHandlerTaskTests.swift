import NIOCore
import Testing

@testable import DeadlineRPC

/// The handler task the server half tracks beside the §9.3 state: waiting for a slot, running, winding down after
/// the call's end, a straggler; the end recorded once; the deadline that beats a late outcome. One pure call each.
@Suite("CallStateMachine.Server: the handler task")
struct CallStateMachineServerHandlerTaskTests {
    typealias Machine = CallStateMachine.Server

    @Test("A handler waiting for a slot starts with its first message when one frees")
    func slot() {
        var machine = Machine(singleRequest: true)
        _ = machine.receiveMessage(endStream: true)
        machine.handlerQueued(firstMessage: ByteBuffer(string: "request"))
        #expect(machine.isWaitingForSlot)
        #expect(!machine.handlerRunning)
        let message = machine.slotTaken()
        #expect(message == .some(ByteBuffer(string: "request")))
        #expect(!machine.isWaitingForSlot)
        machine.handlerStarted()
        #expect(machine.handlerRunning)
        #expect(machine.slotTaken() == nil)  // Not waiting any more.
    }

    @Test("A call cancelled while its handler waits for a slot never starts it: release")
    func cancelledWhileWaiting() {
        var machine = Machine(singleRequest: false)
        machine.handlerQueued(firstMessage: nil)
        #expect(machine.receiveCancel(.cancelled) == .cancelHandler(.cancelled))
        #expect(machine.handlerCancelled(.cancelled, now: 10) == .release)
        #expect(!machine.isWaitingForSlot)
        #expect(machine.slotTaken() == nil)
    }

    @Test("A running handler winds down once; the straggler check marks it; its return reports the overrun")
    func windingDown() {
        var machine = Machine(singleRequest: false)
        machine.handlerStarted()
        _ = machine.deadlineExpired()
        #expect(machine.handlerCancelled(.deadlineExceeded, now: 1_000) == .windDown)
        #expect(machine.isWindingDown)
        #expect(machine.handlerCancelled(.cancelled, now: 2_000) == Machine.OnHandlerCancelled.none)  // One straggler check.
        #expect(machine.stragglerCheckDue() == .deadlineExceeded)
        #expect(machine.handlerFinished(.ok) == .release)
        let returned = machine.handlerTaskReturned(now: 5_000)
        #expect(returned.windingDown)
        #expect(returned.stragglerOverrun == 4_000)
        #expect(!machine.handlerRunning)
    }

    @Test("A handler that returns in time is no straggler, and no straggler check applies to a running call")
    func inTime() {
        var machine = Machine(singleRequest: false)
        machine.handlerStarted()
        #expect(machine.stragglerCheckDue() == nil)
        let returned = machine.handlerTaskReturned(now: 5_000)
        #expect(!returned.windingDown)
        #expect(returned.stragglerOverrun == nil)
    }

    @Test("The deadline beats an outcome taken at or after it, unless the call already ended")
    func deadlinePassed() {
        var machine = Machine(singleRequest: false, deadline: 1_000)
        machine.handlerStarted()
        #expect(!machine.deadlinePassed(now: 999))
        #expect(machine.deadlinePassed(now: 1_000))
        _ = machine.receiveCancel(.cancelled)
        _ = machine.handlerCancelled(.cancelled, now: 1_000)
        #expect(!machine.deadlinePassed(now: 2_000))
        #expect(!Machine(singleRequest: false).deadlinePassed(now: .max))
    }

    @Test("The end is recorded exactly once")
    func recordOnce() {
        var machine = Machine(singleRequest: true)
        let first = machine.recordFinish()
        let second = machine.recordFinish()
        #expect(first)
        #expect(!second)
        #expect(machine.finishRecorded)
    }
}

