@testable import DeadlineRPC
import Testing

/// The health service's statuses and watchers as a pure value: one transition per step, each outcome compared.
@Suite("HealthService.StateMachine")
struct HealthServiceStateMachineTests {
    typealias Machine = HealthService.StateMachine
    typealias Resume = Machine.Resume

    /// A machine with one watcher of `service` that wrote its first status and waits.
    static func waitingWatcher(of service: String = "", setUp: (inout Machine) -> Void = { _ in }) -> (Machine, Machine.WatcherID) {
        var machine = Machine()
        setUp(&machine)
        let (id, first) = machine.addWatcher(service: service)
        #expect(machine.watcherWrote(id, first) == (.wait, false))
        return (machine, id)
    }

    @Test("The server as a whole starts SERVING; other names have no status until set, and a watch reads them as SERVICE_UNKNOWN")
    func initial() {
        var machine = Machine()
        #expect(machine.status(forService: "") == .serving)
        #expect(machine.status(forService: "orders") == nil)
        #expect(machine.watchStatus(forService: "orders") == .serviceUnknown)
        #expect(machine.setStatus(.notServing, forService: "orders") == [])
        #expect(machine.status(forService: "orders") == .notServing)
        #expect(machine.setStatus(.serviceUnknown, forService: "orders") == [])
        #expect(machine.status(forService: "orders") == nil)
        #expect(machine.setStatus(.unknown, forService: "orders") == [])
        #expect(machine.status(forService: "orders") == .unknown)
        #expect(machine.setStatus(nil, forService: "orders") == [])
        #expect(machine.status(forService: "orders") == nil)
    }

    @Test("A watcher writes the current status first, then is resumed by a change of its service only, once per change")
    func changeResumesWaiter() {
        var (machine, id) = Self.waitingWatcher(of: "orders") { _ = $0.setStatus(.serving, forService: "orders") }
        #expect(machine.setStatus(.serving, forService: "orders") == [])  // No change.
        #expect(machine.setStatus(.notServing, forService: "") == [])  // Another service.
        #expect(machine.setStatus(.notServing, forService: "orders") == [Resume(watcher: id, status: .notServing)])
        #expect(machine.setStatus(.serving, forService: "orders") == [])  // Writing, not waiting: coalesced.
        #expect(machine.watcherWrote(id, .notServing) == (.send(.serving), false))
        #expect(machine.watcherWrote(id, .serving) == (.wait, false))
    }

    @Test("A watcher of a name with no status gets SERVICE_UNKNOWN, then the status once one is set, then SERVICE_UNKNOWN when cleared")
    func unknownService() {
        var machine = Machine()
        let (id, first) = machine.addWatcher(service: "later")
        #expect(first == .serviceUnknown)
        #expect(machine.watcherWrote(id, first) == (.wait, false))
        #expect(machine.setStatus(.serving, forService: "later") == [Resume(watcher: id, status: .serving)])
        #expect(machine.watcherWrote(id, .serving) == (.wait, false))
        #expect(machine.setStatus(nil, forService: "later") == [Resume(watcher: id, status: .serviceUnknown)])
    }

    @Test("A slow watcher holds no backlog: 10,000 changes during one write leave one status to send, the latest")
    func coalescing() {
        var (machine, id) = Self.waitingWatcher()
        #expect(machine.setStatus(.notServing, forService: "") == [Resume(watcher: id, status: .notServing)])
        for index in 0..<10_000 {
            #expect(machine.setStatus(index.isMultiple(of: 2) ? .serving : .notServing, forService: "") == [])
        }
        _ = machine.setStatus(.unknown, forService: "")
        #expect(machine.watcherWrote(id, .notServing) == (.send(.unknown), false))
        #expect(machine.watcherWrote(id, .unknown) == (.wait, false))
        // Changes that end where the watcher stands send nothing.
        #expect(machine.setStatus(.serving, forService: "") == [Resume(watcher: id, status: .serving)])
        _ = machine.setStatus(.notServing, forService: "")
        _ = machine.setStatus(.serving, forService: "")
        #expect(machine.watcherWrote(id, .serving) == (.wait, false))
    }

    @Test("Shutdown turns every registered status NOT_SERVING for good; the waiting watchers are resumed with their final status or to finish")
    func shutDown() {
        var machine = Machine()
        _ = machine.setStatus(.serving, forService: "orders")
        _ = machine.setStatus(.notServing, forService: "payments")
        let (whole, _) = machine.addWatcher(service: "")
        let (orders, _) = machine.addWatcher(service: "orders")
        let (payments, _) = machine.addWatcher(service: "payments")
        let (nobody, _) = machine.addWatcher(service: "nobody")
        #expect(machine.watcherWrote(whole, .serving) == (.wait, false))
        #expect(machine.watcherWrote(orders, .serving) == (.wait, false))
        #expect(machine.watcherWrote(payments, .notServing) == (.wait, false))
        #expect(machine.watcherWrote(nobody, .serviceUnknown) == (.wait, false))

        let (resumes, announced) = machine.shutDown()
        #expect(Set(resumes) == [
            Resume(watcher: whole, status: .notServing), Resume(watcher: orders, status: .notServing),
            Resume(watcher: payments, status: nil), Resume(watcher: nobody, status: nil),
        ])
        #expect(!announced && !machine.isAnnounced)
        #expect(["", "orders", "payments"].map { machine.status(forService: $0) } == [.notServing, .notServing, .notServing])
        #expect(machine.status(forService: "nobody") == nil)
        #expect(machine.setStatus(.serving, forService: "orders") == [])  // Ignored from now on.
        #expect(machine.status(forService: "orders") == .notServing)

        #expect(machine.watcherWrote(whole, .notServing) == (.finish, false))
        #expect(machine.removeWatcher(payments) == false)
        #expect(machine.watcherWrote(orders, .notServing) == (.finish, true))  // The last one written: announced.
        #expect(machine.isAnnounced)
        #expect(machine.removeWatcher(orders) == false)  // Announced once only.
        #expect(machine.shutDown() == ([], false))
    }

    @Test("Shutdown is announced at once when no watcher has anything left to write")
    func shutDownWithoutWatchers() {
        var machine = Machine()
        #expect(machine.shutDown() == ([], true))
        #expect(machine.isAnnounced)
        let (id, first) = machine.addWatcher(service: "")
        #expect(first == .notServing)
        #expect(machine.watcherWrote(id, first) == (.finish, false))
    }

    @Test("A watcher writing an older status when shutdown begins holds the announcement until it wrote NOT_SERVING, or its call ended")
    func writingWatcherHoldsAnnouncement() {
        var machine = Machine()
        let (writing, _) = machine.addWatcher(service: "")  // First write still in flight.
        #expect(machine.shutDown() == ([], false))
        let (late, lateFirst) = machine.addWatcher(service: "")  // A watch that starts during the announcement.
        #expect(lateFirst == .notServing)
        #expect(machine.watcherWrote(writing, .serving) == (.send(.notServing), false))
        #expect(machine.watcherWrote(late, .notServing) == (.finish, false))
        #expect(machine.removeWatcher(writing) == true)  // Its call ended (cancelled, or its connection lost).
    }

    @Test("Only a waiting watcher has a wait to cancel")
    func cancelWait() {
        var (machine, id) = Self.waitingWatcher()
        #expect(machine.cancelWait(id) == true)
        #expect(machine.cancelWait(id) == false)
        #expect(machine.setStatus(.notServing, forService: "") == [])  // No longer waiting: nothing to resume.
        #expect(machine.watcherCount == 1)
        #expect(machine.removeWatcher(id) == false)
        #expect(machine.watcherCount == 0)
    }
}
