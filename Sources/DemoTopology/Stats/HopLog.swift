import Synchronization

/// A service's recent ``HopRecord``s (the last ``capacity``), written by its handlers and read by its `/stats`
/// endpoint; plus, kept apart until drained, the finished records of *tracked* calls (request ids starting with
/// ``trackedPrefix``), which rpcbench's `--target demo` collects through `/tracked` after each phase.
package final class HopLog: Sendable {
    private struct State {
        var records: [UInt64: HopRecord] = [:]
        var order: [UInt64] = []
        var nextID: UInt64 = 0
        var tracked: [HopRecord] = []
    }
    /// Request ids with this prefix are tracked: a load generator's calls, whose records must all be kept (the
    /// recent-records window would drop most of a storm's).
    package static let trackedPrefix = "bench-"
    /// The most tracked records kept undrained (far above a bench phase's); past it the older half is dropped.
    package static let trackedCapacity = 100_000
    private let state = Mutex(State())
    /// How many records are kept; older ones are forgotten.
    package let capacity: Int

    /// Creates an empty log.
    package init(capacity: Int = 4_096) {
        self.capacity = capacity
    }

    /// Records a handler that has started; returns the ticket that ``finish(_:outcome:detail:at:)`` takes.
    package func start(_ record: HopRecord) -> UInt64 {
        self.state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.records[id] = record
            state.order.append(id)
            if state.order.count > self.capacity {
                let dropped = state.order.count - self.capacity
                for old in state.order.prefix(dropped) { state.records.removeValue(forKey: old) }
                state.order.removeFirst(dropped)
            }
            return id
        }
    }

    /// Records how and when a handler ended, and whether it returned an answer (`completed`).
    package func finish(_ ticket: UInt64, outcome: HopRecord.Outcome, detail: String?, at nanoseconds: Int64, completed: Bool? = nil) {
        self.state.withLock { state in
            guard var record = state.records[ticket] else { return }
            record.endedNanoseconds = nanoseconds
            record.outcome = outcome
            record.detail = detail
            record.completed = completed
            state.records[ticket] = record
            if record.requestID.hasPrefix(Self.trackedPrefix) {
                // A load generator that stops draining must not grow a long-running service without bound.
                if state.tracked.count >= Self.trackedCapacity { state.tracked.removeFirst(state.tracked.count / 2) }
                state.tracked.append(record)
            }
        }
    }

    /// Records the instant the handler's task was cancelled (the first time only).
    package func markCancelled(_ ticket: UInt64, at nanoseconds: Int64) {
        self.state.withLock { state in
            if state.records[ticket] != nil && state.records[ticket]?.cancelledNanoseconds == nil {
                state.records[ticket]?.cancelledNanoseconds = nanoseconds
            }
        }
    }

    /// The finished records of tracked calls since the last drain; forgets them.
    package func drainTracked() -> [HopRecord] {
        self.state.withLock { state in
            defer { state.tracked.removeAll(keepingCapacity: true) }
            return state.tracked
        }
    }

    /// The records of one request, oldest first.
    package func records(requestID: String) -> [HopRecord] {
        self.state.withLock { state in
            state.order.compactMap { state.records[$0] }.filter { $0.requestID == requestID }
        }
    }
}
