import Synchronization

/// Tells the task running a grpc-swift-2 client how the client ends — abruptly (cancel the task running
/// `runConnections()`, which grpc-swift-2 documents as the way to stop in-flight RPCs at once) or gracefully — and
/// lets calls on that client wait for an abrupt close.
final class ConnectionCloser: Sendable {
    private struct State {
        var outcome: Bool?
        var runner: CheckedContinuation<Bool, Never>?
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())

    /// Creates an unfired closer.
    init() {}

    /// Asks for an abrupt close; every call waiting in ``abruptlyClosed()`` resumes.
    func closeAbruptly() { self.fire(abrupt: true) }

    /// Lets the client end gracefully (after `beginGracefulShutdown()`).
    func release() { self.fire(abrupt: false) }

    private func fire(abrupt: Bool) {
        let (runner, waiters) = self.state.withLock { state -> (CheckedContinuation<Bool, Never>?, [CheckedContinuation<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = abrupt
            defer {
                state.runner = nil
                state.waiters = [:]
            }
            return (state.runner, abrupt ? Array(state.waiters.values) : [])
        }
        runner?.resume(returning: abrupt)
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for either (one caller: the task running the client): true for an abrupt close, false for a graceful
    /// one.
    func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            let outcome = self.state.withLock { state -> Bool? in
                if let outcome = state.outcome { return outcome }
                state.runner = continuation
                return nil
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }

    /// Returns once the client is closed abruptly, or when the calling task is cancelled.
    func abruptlyClosed() async {
        let id = self.state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.outcome == true || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
