import Synchronization

/// A service's recent ``HopRecord``s (the last ``capacity``), written by its handlers and read by its `/stats`
/// endpoint.
final class HopLog: Sendable {
    private struct State {
        var records: [UInt64: HopRecord] = [:]
        var order: [UInt64] = []
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())
    /// How many records are kept; older ones are forgotten.
    let capacity: Int

    /// Creates an empty log.
    init(capacity: Int = 4_096) {
        self.capacity = capacity
    }

    /// Records a handler that has started; returns the ticket that ``finish(_:outcome:detail:at:)`` takes.
    func start(_ record: HopRecord) -> UInt64 {
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

    /// Records how and when a handler ended.
    func finish(_ ticket: UInt64, outcome: HopRecord.Outcome, detail: String?, at nanoseconds: Int64) {
        self.state.withLock { state in
            state.records[ticket]?.endedNanoseconds = nanoseconds
            state.records[ticket]?.outcome = outcome
            state.records[ticket]?.detail = detail
        }
    }

    /// The records of one request, oldest first.
    func records(requestID: String) -> [HopRecord] {
        self.state.withLock { state in
            state.order.compactMap { state.records[$0] }.filter { $0.requestID == requestID }
        }
    }
}
