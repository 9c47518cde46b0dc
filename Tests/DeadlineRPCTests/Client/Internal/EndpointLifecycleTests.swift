import NIOCore
import Testing

@testable import DeadlineRPC

/// One endpoint's connection lifecycle as a pure value: one event per test, the returned answer compared, with a
/// plain object for the connection and time passed in.
@Suite("EndpointLifecycle: connect, back off, ready, retire, lose, shut down", .timeLimit(.minutes(5)))
struct EndpointLifecycleTests {
    /// Stands for a connection handler.
    final class Connection {}
    typealias Machine = EndpointLifecycle<Connection>

    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A fixed backoff: attempt n waits n × 100 ms.
    static func delay(_ attempt: Int) -> Duration { .milliseconds(100 * attempt) }

    @Test("Idle connects once: a second want while connecting starts nothing")
    func idleConnectsOnce() {
        var machine = Machine()
        #expect(machine.canConnect(now: Self.start))
        let answer1 = machine.connect(now: Self.start)
        #expect(answer1)
        #expect(machine.isConnecting)
        let answer2 = machine.connect(now: Self.start)
        #expect(!answer2)
        #expect(machine.readyConnection == nil)
    }

    @Test("Ready: the connection is the one calls use; a connection ready when none was wanted is refused")
    func ready() {
        var machine = Machine()
        let unwanted = Connection()
        let answer3 = machine.connectionReady(unwanted)
        #expect(!answer3)
        _ = machine.connect(now: Self.start)
        let connection = Connection()
        let answer4 = machine.connectionReady(connection)
        #expect(answer4)
        #expect(machine.readyConnection === connection)
        let answer5 = machine.connectionReady(Connection())
        #expect(!answer5)
        #expect(machine.readyConnection === connection)
    }

    @Test("A failed attempt backs off with the policy's growing delay: no attempt before it passes, one after")
    func backoff() {
        var machine = Machine()
        _ = machine.connect(now: Self.start)
        let first = machine.connectFailed(now: Self.start, error: "refused", delay: Self.delay)
        #expect(first == .milliseconds(100))
        guard case .backoff(let until, 1, "refused") = machine.state else {
            Issue.record("not backing off: \(machine.state)")
            return
        }
        #expect(until == Self.start + .milliseconds(100))
        let answer6 = machine.connect(now: Self.start + .milliseconds(99))
        #expect(!answer6)
        let answer7 = machine.connect(now: Self.start + .milliseconds(100))
        #expect(answer7)
        let second = machine.connectFailed(now: Self.start, error: "refused again", delay: Self.delay)
        #expect(second == .milliseconds(200))
        #expect(machine.failedAttempts == 2)
        _ = machine.connect(now: Self.start + .seconds(1))
        let answer8 = machine.connectionReady(Connection())
        #expect(answer8)
        #expect(machine.failedAttempts == 0)
    }

    @Test("Closed connections: the ready one leaves the endpoint idle; one closing while connecting is a failed attempt; others change nothing")
    func closed() {
        var machine = Machine()
        _ = machine.connect(now: Self.start)
        let first = Connection()
        let answer9 = machine.connectionClosed(first)
        #expect(answer9 == .connectFailed)
        _ = machine.connectionReady(first)
        let answer10 = machine.connectionClosed(Connection())
        #expect(answer10 == .none)
        #expect(machine.readyConnection === first)
        let answer11 = machine.connectionClosed(first)
        #expect(answer11 == .lostReady)
        #expect(machine.canConnect(now: Self.start))
    }

    @Test("Retired (GOAWAY or out of stream ids): idle, the next want connects afresh; another's retirement changes nothing")
    func retired() {
        var machine = Machine()
        _ = machine.connect(now: Self.start)
        let connection = Connection()
        _ = machine.connectionReady(connection)
        machine.connectionRetired(Connection())
        #expect(machine.readyConnection === connection)
        machine.connectionRetired(connection)
        #expect(machine.readyConnection == nil)
        let answer12 = machine.connect(now: Self.start)
        #expect(answer12)
    }

    @Test("Shut down: returns what it held, never connects again, a late failure or readiness changes nothing")
    func shutdown() {
        var machine = Machine()
        _ = machine.connect(now: Self.start)
        let connection = Connection()
        _ = machine.connectionReady(connection)
        guard case .ready(let held) = machine.shutdown() else {
            Issue.record("shutdown did not return the ready connection")
            return
        }
        #expect(held === connection)
        #expect(machine.isShutdown)
        let answer13 = machine.connect(now: Self.start + .seconds(60))
        #expect(!answer13)
        let late = machine.connectFailed(now: Self.start, error: "late", delay: Self.delay)
        #expect(late == nil)
        let answer14 = machine.connectionReady(Connection())
        #expect(!answer14)
        #expect(machine.isShutdown)
    }
}
