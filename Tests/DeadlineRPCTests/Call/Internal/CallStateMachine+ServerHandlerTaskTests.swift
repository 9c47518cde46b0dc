import NIOCore
import Testing
import Wire

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

    // MARK: What a returning handler's reply writes

    static func open() -> Machine {
        var machine = Machine(singleRequest: false)
        machine.handlerStarted()
        return machine
    }

    @Test("A handler's reply is written as it is when the client accepts it")
    func validReply() {
        var machine = Self.open()
        let action = machine.handlerFinished(.ok, response: ByteBuffer(string: "hi"), trailers: ["x-ok": "1"], peer: .default)
        #expect(action == .reply(response: ByteBuffer(string: "hi"), status: .ok, trailers: ["x-ok": "1"], refusedTrailers: nil))
    }

    @Test("Trailers the wire forbids fail the call INTERNAL and drop the response")
    func invalidTrailers() {
        var machine = Self.open()
        guard case .reply(let response, let status, let trailers, let refused) =
            machine.handlerFinished(.ok, response: ByteBuffer(string: "hi"), trailers: ["Bad-Key": "v"], peer: .default)
        else {
            Issue.record("expected a reply")
            return
        }
        #expect(response == nil)
        #expect(status.code == .internal)
        #expect(status.message.hasPrefix("The handler's trailing metadata is invalid and was not sent: "))
        #expect(trailers.isEmpty)
        #expect(refused != nil)
    }

    @Test("Trailers over the client's limits fail the call RESOURCE_EXHAUSTED")
    func trailersTooLarge() {
        var machine = Self.open()
        var peer = Settings.default
        peer.maxMetadataSize = 100
        guard case .reply(nil, let status, let trailers, .some) =
            machine.handlerFinished(.ok, response: nil, trailers: ["x-big": .string(String(repeating: "a", count: 200))], peer: peer)
        else {
            Issue.record("expected a reply without response, with refused trailers")
            return
        }
        #expect(status.code == .resourceExhausted)
        #expect(trailers.isEmpty)
    }

    @Test("A response over the client's message size is dropped with RESOURCE_EXHAUSTED, and so are the trailers")
    func responseTooLarge() {
        var machine = Self.open()
        var peer = Settings.default
        peer.maxMessageSize = 4
        let action = machine.handlerFinished(.ok, response: ByteBuffer(string: "12345"), trailers: ["x-ok": "1"], peer: peer)
        #expect(
            action
                == .reply(
                    response: nil,
                    status: Status(code: .resourceExhausted, message: "The response message is 5 bytes; the client accepts at most 4."),
                    trailers: Metadata(),
                    refusedTrailers: nil
                )
        )
    }

    @Test("A handler returning after its call ended writes nothing: release")
    func afterEnd() {
        var machine = Self.open()
        _ = machine.receiveCancel(.cancelled)
        #expect(machine.handlerFinished(.ok, response: ByteBuffer(string: "hi"), trailers: Metadata(), peer: .default) == .release)
    }
}
