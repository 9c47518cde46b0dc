import Synchronization

/// Calls each replica started over one phase, summed over its lives: a replica's counters start again at 0 when it
/// is restarted, so each life's count is read before its kill and added up.
final class ServedCalls: Sendable {
    private struct State {
        var lifeStart: [Int]
        var total: [Int]
    }
    private let state: Mutex<State>

    /// Counting from `start`, each replica's calls started when the phase began.
    init(start: [Int]) {
        self.state = Mutex(State(lifeStart: start, total: start.map { _ in 0 }))
    }

    /// Replica `index` is about to be killed, having started `endedAt` calls (nil: unknown, nothing added); its
    /// next life counts from 0.
    func life(of index: Int, endedAt: Int?) {
        self.state.withLock { state in
            if let endedAt { state.total[index] += max(0, endedAt - state.lifeStart[index]) }
            state.lifeStart[index] = 0
        }
    }

    /// The phase is over; `counts` are each replica's calls started now.
    func end(_ counts: [Int]) {
        self.state.withLock { state in
            for (index, count) in counts.enumerated() where index < state.total.count {
                state.total[index] += max(0, count - state.lifeStart[index])
                state.lifeStart[index] = count
            }
        }
    }

    /// Calls by replica so far.
    var total: [Int] { self.state.withLock { $0.total } }
}
