/// Code that runs around every handler of an ``RPCServer``, in the order of
/// ``RPCServer/Configuration/interceptors`` (the first is outermost), inside the handler's task.
///
/// An interceptor sees the call's ``CallContext`` (method, deadline, metadata, hop count, budget), can change the
/// metadata the handler sees by passing a modified context to `next`, can refuse the call by throwing an
/// ``RPCError`` without calling `next` (the handler never runs, the request is not even decoded), and observes the
/// outcome: `next` returns when the handler succeeded and rethrows what it threw.
///
/// ```swift
/// struct RequireTenant: ServerInterceptor {
///     func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
///         guard context.metadata.first(forKey: "x-tenant") != nil else {
///             throw RPCError(code: .invalidArgument, message: "Send the 'x-tenant' metadata key.")
///         }
///         try await next(context)
///     }
/// }
/// ```
public protocol ServerInterceptor: Sendable {
    /// Runs around one handler; call `next` at most once (the call lets its request go once the handler decoded it,
    /// so a second `next` of a single-request call fails with `internal`).
    func intercept(
        _ context: CallContext,
        next: (CallContext) async throws -> Void
    ) async throws
}

extension Array where Element == any ServerInterceptor {
    /// Runs the chain from `index` around `terminal`.
    func intercept(
        _ context: CallContext,
        from index: Int = 0,
        terminal: (CallContext) async throws -> Void
    ) async throws {
        if index == self.endIndex { return try await terminal(context) }
        try await self[index].intercept(context) { context in
            try await self.intercept(context, from: index + 1, terminal: terminal)
        }
    }
}
