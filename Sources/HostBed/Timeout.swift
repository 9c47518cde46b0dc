/// Runs `body`; if `timeout` passes first, cancels it and throws a ``TestBedError`` naming `what` was awaited.
func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: TimeoutRace<T>.self) { group in
        group.addTask { .value(try await body()) }
        group.addTask {
            try await Task.sleep(for: timeout)
            return .timedOut
        }
        defer { group.cancelAll() }
        switch try await group.next() {
        case .value(let value):
            return value
        case .timedOut, nil:
            throw TestBedError("timed out after \(timeout) waiting for \(what)")
        }
    }
}

/// Which of `withTimeout`'s two children finished first.
private enum TimeoutRace<T: Sendable>: Sendable {
    case value(T)
    case timedOut
}
