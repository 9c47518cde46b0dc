import Synchronization

/// A first-come, first-served async gate: one holder at a time, waiters suspended (never blocking a thread of the
/// cooperative pool, which has only as many threads as cores).
final class HeavyweightGate: Sendable {
    /// The one gate of the test process.
    static let shared = HeavyweightGate()

    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// Waits until the gate is free, then holds it.
    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enterNow = self.state.withLock { state -> Bool in
                if state.held {
                    state.waiters.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if enterNow { continuation.resume() }
        }
    }

    /// Hands the gate to the longest waiter, or frees it.
    func leave() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.nextWaiter < state.waiters.count else {
                state.waiters.removeAll()
                state.nextWaiter = 0
                state.held = false
                return nil
            }
            defer { state.nextWaiter += 1 }
            return state.waiters[state.nextWaiter]
        }
        next?.resume()
    }
}
