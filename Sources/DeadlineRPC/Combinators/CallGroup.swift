import Synchronization
import Wire

/// Budget-aware combinators for calls made together: fan-out where the first failure cancels the rest, races,
/// and graceful degradation. Each runs its operations as child tasks that inherit the current call's deadline;
/// the calls they cancel carry a typed cause (`siblingFailed`, `hedgeLost`) on the wire.
public enum CallGroup {
    /// Runs every operation concurrently and returns their results in order; the first failure cancels the others
    /// (cause `siblingFailed`) and is rethrown — Go's errgroup, with the cause on the wire. Write inline closures
    /// without brackets, `CallGroup.all({ … }, { … })`: in an untyped array literal Swift 6 infers them non-Sendable.
    public static func all<Result: Sendable>(
        _ operations: @Sendable () async throws -> Result...
    ) async throws -> [Result] {
        try await Self.all(operations)
    }

    /// The same fan-out, for operations already in an array (typed `[@Sendable () async throws -> Result]`).
    public static func all<Result: Sendable>(
        _ operations: [@Sendable () async throws -> Result]
    ) async throws -> [Result] {
        let (context, control) = Self.childContext(deadline: nil)
        return try await CallContext.$current.withValue(context) {
            try await withThrowingTaskGroup(of: (Int, Result).self) { group in
                for (index, operation) in operations.enumerated() {
                    group.addTask { (index, try await operation()) }
                }
                var results = [Result?](repeating: nil, count: operations.count)
                do {
                    for try await (index, result) in group { results[index] = result }
                } catch {
                    control.recordCancel(.siblingFailed)
                    group.cancelAll()
                    throw error
                }
                return results.map { $0! }
            }
        }
    }

    /// Runs the operations concurrently and returns the first success; the losers are cancelled (cause
    /// `hedgeLost`). Throws the last failure if none succeeds. Inline closures go without brackets, as for ``all``.
    public static func race<Result: Sendable>(
        _ operations: @Sendable () async throws -> Result...
    ) async throws -> Result {
        try await Self.race(operations)
    }

    /// The same race, for operations already in an array (typed `[@Sendable () async throws -> Result]`).
    public static func race<Result: Sendable>(
        _ operations: [@Sendable () async throws -> Result]
    ) async throws -> Result {
        precondition(!operations.isEmpty, "race needs at least one operation")
        let (context, control) = Self.childContext(deadline: nil)
        return try await CallContext.$current.withValue(context) {
            try await withThrowingTaskGroup(of: Result.self) { group in
                for operation in operations { group.addTask { try await operation() } }
                var lastError: (any Error)? = nil
                while let next = await group.nextResult() {
                    switch next {
                    case .success(let result):
                        control.recordCancel(.hedgeLost)
                        group.cancelAll()
                        return result
                    case .failure(let error):
                        lastError = error
                    }
                }
                throw lastError!
            }
        }
    }

    /// Hedges within the budget: starts `operation`, and if it has not answered after `delay` (and the budget
    /// allows), starts a second attempt; the first answer wins and the other is cancelled (cause `hedgeLost`).
    public static func hedge<Result: Sendable>(
        after delay: Duration,
        _ operation: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        let remaining = CallContext.current?.timeRemaining
        if let remaining, remaining <= delay {
            return try await operation()  // No budget for a second attempt.
        }
        // Both attempts share one history, so the second goes to another replica than the first when it can.
        return try await AttemptHistory.$shared.withValue(AttemptHistory()) {
            try await Self.race([
                operation,
                {
                    try await ManualClock.sleep(for: delay)
                    return try await operation()
                },
            ])
        }
    }

    /// Graceful degradation: runs `operation` with at most `budget` of the remaining time and never past `reserve`
    /// before the inherited deadline, so the fallback keeps `reserve` to run in; on `deadlineExceeded` or
    /// `unavailable`, or when no more than `reserve` remains before it starts, returns `fallback()` instead. Other
    /// errors are rethrown.
    public static func withFallback<Result: Sendable>(
        budget: Duration? = nil,
        reserve: Duration = .zero,
        _ operation: @Sendable () async throws -> Result,
        fallback: @Sendable () async -> Result
    ) async throws -> Result {
        let now = Deadline.now()
        var deadline = budget.map { now + $0 }
        if let inherited = CallContext.current?.deadline {
            if inherited - now <= reserve { return await fallback() }
            // Checking the reserve only at the start is not enough: an operation that runs to the inherited
            // deadline would leave the fallback nothing, and the caller would get deadlineExceeded after all.
            deadline = Deadline.earliest(deadline, inherited + (.zero - reserve))
        }
        let (context, _) = Self.childContext(deadline: deadline)
        do {
            return try await CallContext.$current.withValue(context) { try await operation() }
        } catch let error as RPCError where error.code == .deadlineExceeded || error.code == .unavailable {
            return await fallback()
        }
    }

    /// The current context, narrowed to `deadline`, with a fresh control whose parent is the current one.
    private static func childContext(deadline: Deadline?) -> (CallContext, CallControl) {
        let current = CallContext.current
        let control = CallControl(parent: current?.control)
        let context = current?.narrowed(deadline: deadline, control: control)
            ?? CallContext.root(deadline: deadline, control: control)
        return (context, control)
    }
}
