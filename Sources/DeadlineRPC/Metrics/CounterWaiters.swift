import Synchronization

/// Tasks waiting for a set of counters to reach a condition, woken by the code that changes the counters: a test
/// awaits "no handler in flight" instead of polling for it.
///
/// Free when nobody waits: ``changed(_:)`` costs one atomic load and takes no lock; nothing is allocated per call.
///
/// No wake-up is lost: a writer changes its counter with a sequentially consistent read-modify-write and then
/// loads ``waiting`` (sequentially consistent too), while a waiter increments ``waiting`` and then reads the
/// counters, both under the lock the writer's wake-up takes. In the single total order of those operations,
/// either the writer sees the waiter (and re-evaluates its condition under the lock) or the waiter's first
/// reading sees the writer's change. (On x86-64 both orderings compile to the same instructions as relaxed ones.)
final class CounterWaiters<Value: Sendable>: Sendable {
    private struct Waiter {
        let id: UInt64
        let condition: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Value?, Never>
    }

    private struct State {
        var nextID: UInt64 = 0
        var waiters: [Waiter] = []
    }

    /// Waiters registered now; read on every change, so the common case (none) stops at one load.
    private let waiting = Atomic<Int>(0)
    private let state = Mutex(State())

    init() {}

    /// Call after changing a counter (with a sequentially consistent operation); `read` reads all the counters
    /// (with sequentially consistent loads) and runs only when somebody waits.
    @inline(__always)
    func changed(_ read: () -> Value) {
        guard self.waiting.load(ordering: .sequentiallyConsistent) > 0 else { return }
        self.wake(read)
    }

    private func wake(_ read: () -> Value) {
        let ready = self.state.withLock { state -> [(CheckedContinuation<Value?, Never>, Value)] in
            guard !state.waiters.isEmpty else { return [] }
            let now = read()
            var ready: [(CheckedContinuation<Value?, Never>, Value)] = []
            state.waiters.removeAll { waiter in
                guard waiter.condition(now) else { return false }
                ready.append((waiter.continuation, now))
                return true
            }
            self.waiting.subtract(ready.count, ordering: .sequentiallyConsistent)
            return ready
        }
        for (continuation, value) in ready { continuation.resume(returning: value) }
    }

    /// Suspends until `condition` holds for what `read` returns (checked at once, then after every change), and
    /// returns that reading; nil if the task is cancelled first (that is how a caller bounds the wait).
    func wait(until condition: @escaping @Sendable (Value) -> Bool, read: () -> Value) async -> Value? {
        let id = self.state.withLock { state -> UInt64 in
            defer { state.nextID &+= 1 }
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let already = self.state.withLock { state -> Value? in
                    self.waiting.add(1, ordering: .sequentiallyConsistent)
                    let now = read()
                    if condition(now) {
                        self.waiting.subtract(1, ordering: .sequentiallyConsistent)
                        return now
                    }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return nil
                }
                if let already {
                    continuation.resume(returning: already)
                } else if Task.isCancelled {
                    // Cancelled before it was registered: the handler below found nothing to cancel.
                    self.cancel(id)
                }
            }
        } onCancel: {
            self.cancel(id)
        }
    }

    private func cancel(_ id: UInt64) {
        let continuation = self.state.withLock { state -> CheckedContinuation<Value?, Never>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            self.waiting.subtract(1, ordering: .sequentiallyConsistent)
            return state.waiters.remove(at: index).continuation
        }
        continuation?.resume(returning: nil)
    }
}
