extension CallContext {
    /// Starts work that must outlive the current call, deliberately free of its deadline and cancellation: the
    /// task sees no `CallContext`, so its outbound calls carry only the timeouts you give them. You own the
    /// returned task (cancel or await it: dropping it is warned about); the name says what you chose.
    public static func detachedDeadlineFree<Success: Sendable>(
        priority: TaskPriority? = nil,
        _ operation: @escaping @Sendable () async throws -> Success
    ) -> Task<Success, any Error> {
        // Free of the call, not of a test's manual clock (a detached task inherits no task-locals).
        let clock = ManualClock.loop
        return Task.detached(priority: priority) {
            try await ManualClock.$loop.withValue(clock) {
                try await CallContext.$current.withValue(nil) { try await operation() }
            }
        }
    }

    /// Captures this call's context (deadline, metadata, hop count, typed values) to run later work under it, on
    /// purpose: outbound calls made in ``CapturedCallContext/run(_:)`` inherit the captured deadline.
    public func capture() -> CapturedCallContext {
        CapturedCallContext(context: self)
    }
}

/// A call context captured for later work (see ``CallContext/capture()``).
public struct CapturedCallContext: Sendable {
    let context: CallContext

    /// Runs `operation` with the captured context as ``CallContext/current``.
    public func run<Result>(_ operation: () async throws -> Result) async rethrows -> Result {
        try await CallContext.$current.withValue(self.context) { try await operation() }
    }
}
