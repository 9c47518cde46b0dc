import NIOCore
import Testing

@testable import DeadlineRPC

/// The client's connection lifecycle as a pure value: one event per test, the returned action compared, with plain
/// objects for the connection and the calls and time passed in.
@Suite("ClientConnectionManager.StateMachine: connect, wait, back off, ready, close", .timeLimit(.minutes(5)))
struct ClientConnectionManagerStateMachineTests {
    /// Stands for a connection handler.
    final class Connection {}
    /// Stands for a call.
    final class Call {}
    typealias Machine = ClientConnectionManager.StateMachine<Connection, Call>

    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A fixed backoff: attempt n waits n × 100 ms.
    static func delay(_ attempt: Int) -> Duration { .milliseconds(100 * attempt) }

    /// Whether `action` is `.connect`.
    static func isConnect(_ action: Machine.OnCall) -> Bool {
        if case .connect = action { return true }
        return false
    }

    /// A machine connecting, with `calls` waiting.
    static func connecting(_ calls: [Call]) -> Machine {
        var machine = Machine()
        for (index, call) in calls.enumerated() {
            let action = machine.callArrived(call, now: Self.start, maxPending: 100)
            if index == 0 { #expect(Self.isConnect(action)) }
        }
        return machine
    }

    @Test("The first call connects; later ones wait, up to the bound, which refuses and names the count")
    func firstCallConnects() {
        var machine = Machine()
        #expect(machine.readyConnection == nil)
        #expect(Self.isConnect(machine.callArrived(Call(), now: Self.start, maxPending: 2)))
        guard case .wait = machine.callArrived(Call(), now: Self.start, maxPending: 2) else {
            Issue.record("the second call did not wait")
            return
        }
        guard case .refuseTooManyWaiting(2) = machine.callArrived(Call(), now: Self.start, maxPending: 2) else {
            Issue.record("the third call was not refused with the count")
            return
        }
        guard case .connecting(let waiting) = machine.state else {
            Issue.record("not connecting: \(machine.state)")
            return
        }
        #expect(waiting.count == 2)
    }

    @Test("Ready: the waiting calls are dispatched in order, and calls use the connection")
    func readyDispatches() {
        let calls = [Call(), Call(), Call()]
        var machine = Self.connecting(calls)
        let connection = Connection()
        guard case .dispatch(let waiting) = machine.connectionReady(connection) else {
            Issue.record("the ready connection was not used")
            return
        }
        #expect(waiting.map(ObjectIdentifier.init) == calls.map(ObjectIdentifier.init))
        #expect(machine.readyConnection === connection)
        guard case .use(let used) = machine.callArrived(Call(), now: Self.start, maxPending: 100) else {
            Issue.record("a call did not use the ready connection")
            return
        }
        #expect(used === connection)
    }

    @Test("A connection ready when none was wanted (closed or superseded) is closed")
    func unwantedConnectionIsClosed() {
        var idle = Machine()
        guard case .close = idle.connectionReady(Connection()) else {
            Issue.record("an unwanted connection was kept")
            return
        }
        var closed = Self.connecting([Call()])
        _ = closed.close()
        guard case .close = closed.connectionReady(Connection()) else {
            Issue.record("a connection after close was kept")
            return
        }
        #expect(closed.isClosed)
    }

    @Test("A failed attempt fails the waiting calls and backs off: calls fail fast until the delay passes, then connect")
    func backoff() {
        let calls = [Call(), Call()]
        var machine = Self.connecting(calls)
        let failed = machine.connectFailed(now: Self.start, error: "refused", delay: Self.delay)
        #expect(failed.waiting.count == 2)
        #expect(failed.delay == .milliseconds(100))
        let justBefore = Self.start + .milliseconds(99)
        guard case .refuseBackingOff(attempt: 1, error: "refused") = machine.callArrived(Call(), now: justBefore, maxPending: 100) else {
            Issue.record("a call during the backoff was not refused")
            return
        }
        #expect(Self.isConnect(machine.callArrived(Call(), now: Self.start + .milliseconds(100), maxPending: 100)))
        // A second failure in a row waits longer; a success resets the count.
        let second = machine.connectFailed(now: Self.start + .milliseconds(100), error: "refused", delay: Self.delay)
        #expect(second.delay == .milliseconds(200))
        #expect(second.waiting.count == 1)
        #expect(Self.isConnect(machine.callArrived(Call(), now: Self.start + .seconds(1), maxPending: 100)))
        guard case .dispatch = machine.connectionReady(Connection()) else {
            Issue.record("not ready")
            return
        }
        #expect(machine.connectionClosed(machine.readyConnection!).isRedispatch)
        #expect(Self.isConnect(machine.callArrived(Call(), now: Self.start + .seconds(1), maxPending: 100)))
        #expect(machine.connectFailed(now: Self.start + .seconds(1), error: "refused", delay: Self.delay).delay == .milliseconds(100))
    }

    @Test("A failure after close fails nothing and leaves the client closed")
    func failureAfterClose() {
        var machine = Self.connecting([Call()])
        guard case .connecting(let waiting) = machine.close() else {
            Issue.record("close did not hand back the waiting calls")
            return
        }
        #expect(waiting.count == 1)
        let failed = machine.connectFailed(now: Self.start, error: "refused", delay: Self.delay)
        #expect(failed.waiting.isEmpty)
        #expect(failed.delay == nil)
        #expect(machine.isClosed)
        guard case .refuseClosed = machine.callArrived(Call(), now: Self.start, maxPending: 100) else {
            Issue.record("a call after close was not refused")
            return
        }
    }

    @Test("Closed connections: the ready one makes the next call reconnect; one closing while connecting is a failed attempt; others change nothing")
    func connectionClosed() {
        var machine = Self.connecting([Call()])
        guard case .connectFailed = machine.connectionClosed(Connection()) else {
            Issue.record("a close while connecting was not a failed attempt")
            return
        }
        let connection = Connection()
        _ = machine.connectionReady(connection)
        guard case .none = machine.connectionClosed(Connection()) else {
            Issue.record("another connection's close changed the lifecycle")
            return
        }
        #expect(machine.readyConnection === connection)
        #expect(machine.connectionClosed(connection).isRedispatch)
        #expect(machine.readyConnection == nil)
        #expect(Self.isConnect(machine.callArrived(Call(), now: Self.start, maxPending: 100)))
    }

    @Test("Draining: the ready connection takes no new calls, the next connects; another's drain changes nothing")
    func draining() {
        var machine = Self.connecting([Call()])
        let connection = Connection()
        _ = machine.connectionReady(connection)
        machine.connectionDraining(Connection())
        #expect(machine.readyConnection === connection)
        machine.connectionDraining(connection)
        #expect(machine.readyConnection == nil)
        #expect(Self.isConnect(machine.callArrived(Call(), now: Self.start, maxPending: 100)))
    }

    @Test("Out of stream ids: the call waits for a fresh connection; waiting calls can be taken out")
    func exhaustedAndRemoved() {
        var machine = Self.connecting([Call()])
        _ = machine.connectionReady(Connection())
        let call = Call()
        machine.connectionExhausted(call)
        #expect(machine.readyConnection == nil)
        let removed = machine.removeWaiting(call)
        let removedAgain = machine.removeWaiting(call)
        #expect(removed)
        #expect(!removedAgain)
        guard case .connecting(let waiting) = machine.state else {
            Issue.record("not connecting")
            return
        }
        #expect(waiting.isEmpty)
    }
}

extension ClientConnectionManager.StateMachine.OnClosed {
    /// Whether this is `.redispatchWaitingForStream`.
    var isRedispatch: Bool {
        if case .redispatchWaitingForStream = self { return true }
        return false
    }
}
