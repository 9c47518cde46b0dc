/// Code that runs around every outbound call of an ``RPCClient``, in the order of
/// ``RPCClient/Configuration/interceptors`` (the first is outermost).
///
/// An interceptor can read and change the call's metadata, shorten its deadline (a later deadline is clamped,
/// logged and counted, never obeyed), refuse the call by throwing an ``RPCError`` without calling `next`, observe
/// the outcome (what `next` returns or throws), and — for unary calls — call `next` again to retry.
///
/// ```swift
/// struct Tagging: ClientInterceptor {
///     func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
///         var call = call
///         call.metadata.add("checkout", forKey: "x-team")
///         return try await next(call)
///     }
/// }
/// ```
public protocol ClientInterceptor: Sendable {
    /// Runs around one call. For streaming calls `next` also runs the body that reads and writes the streams, so it
    /// must be called at most once; unary calls may call it again (see ``RetryInterceptor``).
    func intercept<Result>(
        _ call: OutboundCall,
        next: (OutboundCall) async throws -> Result
    ) async throws -> Result
}

/// An outbound call as its client interceptors see it, before anything is sent.
public struct OutboundCall: Sendable {
    /// The full method name, e.g. `greeter.Greeter/Greet`.
    public let method: String
    /// The call shape.
    public let kind: CallKind
    /// Whether the method is declared idempotent (``Method/isIdempotent``): only those may be retried.
    public let isIdempotent: Bool
    /// Request metadata; changes made here are what the server receives (validated before sending).
    public var metadata: Metadata
    /// How request messages are compressed.
    public var compression: MessageEncoding
    /// The effective deadline: the earliest of the caller's options, the method's default and the inherited
    /// deadline. Setting an earlier one shortens the call; a later one is clamped back to the inherited deadline.
    public var deadline: Deadline?
    /// 1 for the first attempt; a retrying interceptor increments it.
    public var attempt: Int
    /// When the call was made (before the first attempt): the reference for a root call's original budget.
    let createdAt: Deadline
    /// The deadline before interceptors ran, for clamping.
    let inheritedDeadline: Deadline?
    /// Where earlier attempts went, shared by every attempt of this call (nil when no retry or hedge can follow).
    let history: AttemptHistory?

    init(
        method: String,
        kind: CallKind,
        isIdempotent: Bool,
        metadata: Metadata,
        compression: MessageEncoding,
        deadline: Deadline?,
        inheritedDeadline: Deadline?,
        createdAt: Deadline,
        history: AttemptHistory? = nil
    ) {
        self.history = history
        self.method = method
        self.kind = kind
        self.isIdempotent = isIdempotent
        self.metadata = metadata
        self.compression = compression
        self.deadline = deadline
        self.attempt = 1
        self.createdAt = createdAt
        self.inheritedDeadline = inheritedDeadline
    }

    /// The endpoints earlier attempts of this call were sent to, in order: the runtime sends the next attempt to
    /// another endpoint when the target has one that is ready.
    public var triedEndpoints: [Endpoint] { self.history?.endpoints ?? [] }

    /// Time left before ``deadline``, or nil when the call has none.
    public var timeRemaining: Duration? { self.deadline?.timeRemaining }
}

extension Array where Element == any ClientInterceptor {
    /// Runs the chain from `index` around `terminal`.
    func intercept<Result>(
        _ call: OutboundCall,
        from index: Int = 0,
        terminal: (OutboundCall) async throws -> Result
    ) async throws -> Result {
        if index == self.endIndex { return try await terminal(call) }
        return try await self[index].intercept(call) { call in
            try await self.intercept(call, from: index + 1, terminal: terminal)
        }
    }
}
