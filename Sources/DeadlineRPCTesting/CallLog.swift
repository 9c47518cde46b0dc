import DeadlineRPC
import Synchronization

/// Every handler run on a ``TestNetwork``'s servers, in start order, and a way to await one: a test waits for the
/// event ("C's handler started", "it ended") instead of sleeping.
public final class CallLog: Sendable {
    private struct Waiter {
        let id: Int
        let condition: @Sendable ([HandledCall]) -> Bool
        let continuation: CheckedContinuation<[HandledCall], Never>
    }

    private struct State {
        var calls: [HandledCall] = []
        var waiters: [Waiter] = []
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The handler runs so far, in start order.
    public var calls: [HandledCall] { self.state.withLock { $0.calls } }

    /// The handlers that have not returned yet.
    public var running: [HandledCall] { self.calls.filter(\.isRunning) }

    /// Waits until `condition` holds for the log and returns the log then (at once when it already holds). Returns
    /// the log as it is if the waiting task is cancelled.
    @discardableResult
    public func wait(until condition: @escaping @Sendable ([HandledCall]) -> Bool) async -> [HandledCall] {
        let id = self.state.withLock { state -> Int in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[HandledCall], Never>) in
                let now = self.state.withLock { state -> [HandledCall]? in
                    if condition(state.calls) || Task.isCancelled { return state.calls }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> (Waiter, [HandledCall])? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return (state.waiters.remove(at: index), state.calls)
            }
            if let (waiter, calls) = waiter { waiter.continuation.resume(returning: calls) }
        }
    }

    /// Waits until the `nth` (1-based) handler of `method` has started — on `server` when given — and returns it.
    @discardableResult
    public func started(_ method: String, on server: String? = nil, nth: Int = 1) async -> HandledCall? {
        let matching = await self.wait { calls in
            calls.lazy.filter { $0.method == method && (server == nil || $0.server == server) }.count >= nth
        }
        return matching.filter { $0.method == method && (server == nil || $0.server == server) }.dropFirst(nth - 1).first
    }

    /// Waits until the `nth` (1-based) handler of `method` — on `server` when given — has ended, and returns it.
    @discardableResult
    public func ended(_ method: String, on server: String? = nil, nth: Int = 1) async -> HandledCall? {
        let matches: @Sendable (HandledCall) -> Bool = { $0.method == method && (server == nil || $0.server == server) }
        let calls = await self.wait { calls in
            let matching = calls.filter(matches)
            return matching.count >= nth && !matching[nth - 1].isRunning
        }
        return calls.filter(matches).dropFirst(nth - 1).first
    }

    /// Waits until no handler is running (every one started so far has ended).
    public func allEnded() async {
        await self.wait { calls in calls.allSatisfy { !$0.isRunning } }
    }

    // MARK: Recording

    func record(_ call: HandledCall) -> Int {
        self.update { calls in
            calls.append(call)
            return calls.count - 1
        }
    }

    func record(_ end: HandledCall.End, at index: Int) {
        self.update { calls in calls[index].end = end }
    }

    private func update<Result>(_ change: (inout [HandledCall]) -> Result) -> Result {
        let (result, ready) = self.state.withLock { state -> (Result, [(Waiter, [HandledCall])]) in
            let result = change(&state.calls)
            var ready: [(Waiter, [HandledCall])] = []
            state.waiters.removeAll { waiter in
                guard waiter.condition(state.calls) else { return false }
                ready.append((waiter, state.calls))
                return true
            }
            return (result, ready)
        }
        for (waiter, calls) in ready { waiter.continuation.resume(returning: calls) }
        return result
    }
}
