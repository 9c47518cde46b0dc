import Synchronization

/// The standard health service (grpc.health.v1's `Check` and `Watch`, on DeadlineRPC's framing): each service name
/// has a ``ServingStatus``; clients check it once or watch its changes, and a balancer stops picking an endpoint that
/// is not serving.
///
/// ```swift
/// let health = HealthService()                       // "" (the server as a whole) starts SERVING
/// health.setStatus(.serving, forService: "orders.Orders")
/// var router = Router()
/// router.addHealthService(health)
/// ```
/// A server built from the router turns every status `NOT_SERVING` as soon as its graceful shutdown begins, and its
/// watchers are sent that before their connection's GOAWAY (see `docs/PROTOCOL.md`, "Health service"). Thread-safe:
/// set statuses from anywhere. Give each server its own: shutdown is final, so the first server to shut down would
/// turn a shared one `NOT_SERVING` for all.
public final class HealthService: Sendable {
    /// The unary method: one service name in, its status out (`notFound` for a name with no status).
    public static let checkMethodName = "drpc.health.v1.Health/Check"
    /// The server-streaming method: the status at once, then each change.
    public static let watchMethodName = "drpc.health.v1.Health/Watch"

    private struct State {
        var machine = StateMachine()
        /// The parked watchers' continuations: resumed with a status to write, nil to end, or a cancellation.
        var waiters: [StateMachine.WatcherID: CheckedContinuation<ServingStatus?, any Error>] = [:]
        /// Run once the shutdown has been announced to every watcher.
        var whenAnnounced: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    /// Creates a health service in which the server as a whole (`""`) is `SERVING` and no other name has a status.
    public init() {}

    /// Sets the status of `service` (`""`: the server as a whole); watchers of it are sent the change. Ignored once
    /// the service has shut down. Setting ``ServingStatus/serviceUnknown`` removes the name, as ``clearStatus(forService:)``.
    public func setStatus(_ status: ServingStatus, forService service: String = "") {
        self.update(status, forService: service)
    }

    /// Removes the status of `service`: a check fails `notFound`, watchers are sent `SERVICE_UNKNOWN`. Ignored once
    /// the service has shut down.
    public func clearStatus(forService service: String) {
        self.update(nil, forService: service)
    }

    /// The status registered for `service`, nil if none (what a check answers, without a call).
    public func status(forService service: String = "") -> ServingStatus? {
        self.state.withLock { $0.machine.status(forService: service) }
    }

    /// Turns every status `NOT_SERVING` for good: later changes are ignored, and each Watch call ends (with OK)
    /// once it has sent that. The server does this itself when its graceful shutdown begins; call it to announce
    /// a shutdown of your own making earlier.
    public func enterShutdown() {
        self.enterShutdown(whenAnnounced: {})
    }

    private func update(_ status: ServingStatus?, forService service: String) {
        let resumes = self.state.withLock { state in
            Self.take(state.machine.setStatus(status, forService: service), from: &state)
        }
        for (continuation, status) in resumes { continuation.resume(returning: status) }
    }

    /// Shuts down (if not yet) and runs `announced` once every watcher has written its final status; at once if
    /// that is already so.
    func enterShutdown(whenAnnounced announced: @escaping @Sendable () -> Void) {
        let (resumes, callbacks) = self.state.withLock { state in
            let (resumes, done) = state.machine.shutDown()
            let continuations = Self.take(resumes, from: &state)
            guard !done else { return (continuations, Self.takeCallbacks(&state) + [announced]) }
            if state.machine.isAnnounced { return (continuations, [announced]) }
            state.whenAnnounced.append(announced)
            return (continuations, [])
        }
        for (continuation, status) in resumes { continuation.resume(returning: status) }
        for callback in callbacks { callback() }
    }

    /// Every service name with a status (for reflection).
    func allStatuses() -> [String: ServingStatus] {
        self.state.withLock { $0.machine.allStatuses }
    }

    /// The number of open Watch calls (tests and diagnostics).
    var watcherCount: Int { self.state.withLock { $0.machine.watcherCount } }

    // MARK: Serving

    /// Check: the status registered for `service`.
    func check(_ service: String) throws -> ServingStatus {
        guard let status = self.status(forService: service) else {
            throw RPCError(code: .notFound, message: "No health status is registered for service '\(service)'.")
        }
        return status
    }

    /// Watch: sends the status of `service` at once, then each change (only changes; the latest when `send` is slow)
    /// until the call ends, or — once shut down — until the final status has been sent.
    func watch(_ service: String, send: (ServingStatus) async throws -> Void) async throws {
        let (id, first) = self.state.withLock { $0.machine.addWatcher(service: service) }
        defer {
            let announced = self.state.withLock { state in state.machine.removeWatcher(id) ? Self.takeCallbacks(&state) : [] }
            for callback in announced { callback() }
        }
        var next: ServingStatus? = first
        while let status = next {
            try await send(status)
            next = try await self.afterWrite(of: status, by: id)
        }
    }

    /// Records that the watcher wrote `status`; returns the next status to write, waiting for a change if there is
    /// none yet, or nil when the watch is over.
    private func afterWrite(of status: ServingStatus, by id: StateMachine.WatcherID) async throws -> ServingStatus? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ServingStatus?, any Error>) in
                // One lock for the decision and the parking: a change cannot slip between them.
                let (outcome, announced) = self.state.withLock { state -> (Result<ServingStatus?, any Error>?, [@Sendable () -> Void]) in
                    let (next, done) = state.machine.watcherWrote(id, status)
                    let callbacks = done ? Self.takeCallbacks(&state) : []
                    switch next {
                    case .send(let status):
                        return (.success(status), callbacks)
                    case .finish:
                        return (.success(nil), callbacks)
                    case .wait:
                        // Cancelled before parking: the cancellation handler ran already (or runs next, finding
                        // nothing to resume), so fail here.
                        guard !Task.isCancelled else {
                            _ = state.machine.cancelWait(id)
                            return (.failure(CancellationError()), callbacks)
                        }
                        state.waiters[id] = continuation
                        return (nil, callbacks)
                    }
                }
                if let outcome { continuation.resume(with: outcome) }
                for callback in announced { callback() }
            }
        } onCancel: {
            let waiter = self.state.withLock { state in
                state.machine.cancelWait(id) ? state.waiters.removeValue(forKey: id) : nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private static func take(
        _ resumes: [StateMachine.Resume],
        from state: inout State
    ) -> [(CheckedContinuation<ServingStatus?, any Error>, ServingStatus?)] {
        resumes.compactMap { resume in
            state.waiters.removeValue(forKey: resume.watcher).map { ($0, resume.status) }
        }
    }

    private static func takeCallbacks(_ state: inout State) -> [@Sendable () -> Void] {
        defer { state.whenAnnounced = [] }
        return state.whenAnnounced
    }
}
