import DemoTopology
import Synchronization

/// Checkouts sent through a front door by several concurrent workers while something happens to the services
/// behind it (a replica killed or drained), and for a few more rounds after: what they were answered.
struct CheckoutBurst: Sendable {
    /// What the checkouts were answered.
    struct Tally: Sendable, Hashable {
        /// Checkouts sent.
        var sent = 0
        /// Answered 200.
        var ok = 0
        /// Every other answer, by HTTP status (0: no answer at all).
        var failures: [Int: Int] = [:]

        /// Checkouts not answered 200.
        var failed: Int { self.sent - self.ok }

        /// `52 × 200`, or `50 × 200, 2 × 503`.
        var description: String {
            var parts = ["\(self.ok) × 200"]
            for (status, count) in self.failures.sorted(by: { $0.key < $1.key }) {
                parts.append("\(count) × \(status == 0 ? "no answer" : "\(status)")")
            }
            return parts.joined(separator: ", ")
        }

        /// Adds one answer.
        mutating func record(_ status: Int) {
            self.sent += 1
            if status == 200 { self.ok += 1 } else { self.failures[status, default: 0] += 1 }
        }
    }

    /// The front door.
    var front: ServiceAddress
    /// A checkout every service answers well within the budget (the `all-fast` scenario's).
    var path = "/checkout?item=book&user=ada&qty=1"
    /// Concurrent workers, each sending one checkout after the other.
    var workers = 6
    /// Checkouts each worker sends once the action has returned.
    var roundsAfter = 5
    /// The request ids' prefix.
    var requestIDPrefix: String

    /// Runs `action` while the workers send checkouts; returns its result and the tally, once every worker has
    /// sent ``roundsAfter`` more checkouts after it.
    func run<T: Sendable>(during action: () async throws -> T) async throws -> (T, Tally) {
        let state = State()
        let (front, path, roundsAfter, prefix) = (self.front, self.path, self.roundsAfter, self.requestIDPrefix)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<self.workers {
                group.addTask {
                    var after = 0
                    var number = 0
                    while after < roundsAfter {
                        let wasDone = state.actionDone.load(ordering: .acquiring)
                        number += 1
                        let headers = [(FrontDoor.requestIDHeader, "\(prefix)-\(worker)-\(number)")]
                        let status = (try? await HTTPFetch.get(front, path, headers: headers, timeout: .seconds(30)))?.status ?? 0
                        state.tally.withLock { $0.record(status) }
                        if wasDone { after += 1 }
                        try Task.checkCancellation()
                    }
                }
            }
            let result: T
            do {
                result = try await action()
            } catch {
                group.cancelAll()
                throw error
            }
            state.actionDone.store(true, ordering: .releasing)
            try await group.waitForAll()
            return (result, state.tally.withLock { $0 })
        }
    }

    /// What the workers share: the tally, and whether the action has returned.
    private final class State: Sendable {
        let tally = Mutex(Tally())
        let actionDone = Atomic<Bool>(false)
    }
}
