import Wire

/// The error a failed call throws: a status code, a message, trailing metadata, and (locally) the cause.
///
/// Handlers throw it to choose the status a caller sees; any other error a handler throws reaches the caller as
/// `unknown` (its text is not sent, so internals do not leak). A call cancelled by its caller, or ended by its
/// deadline, fails with ``Code-swift.typealias/cancelled`` or ``Code-swift.typealias/deadlineExceeded``, and
/// ``cancelReason`` tells which typed cause ended it.
public struct RPCError: Error, Sendable, CustomStringConvertible {
    /// The status code (the 17 gRPC codes).
    public typealias Code = Wire.StatusCode

    /// What kind of failure.
    public var code: Code
    /// A full sentence saying what happened.
    public var message: String
    /// Trailing metadata the server sent with the failure (empty for locally made errors).
    public var metadata: Metadata
    /// The typed cancellation cause, when the call was cancelled or expired.
    public var cancelReason: CancelReason?
    /// The underlying error, if any (never sent over the wire).
    public var cause: (any Error)?

    /// Creates an error.
    public init(
        code: Code,
        message: String,
        metadata: Metadata = Metadata(),
        cancelReason: CancelReason? = nil,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.metadata = metadata
        self.cancelReason = cancelReason
        self.cause = cause
    }

    /// The status this error carries.
    public var status: Status { Status(code: code, message: message) }

    /// `RPCError(CODE): message`.
    public var description: String {
        var text = "RPCError(\(code)): \(message)"
        if let cancelReason { text += " [cause: \(cancelReason)]" }
        return text
    }
}

extension RPCError {
    /// Whether retrying the same call could succeed: only `unavailable`. A timeout is never retryable — the budget
    /// it would retry within is already gone.
    public var isRetryable: Bool { self.code == .unavailable }

    static func cancelled(_ reason: CancelReason, _ message: String? = nil) -> RPCError {
        RPCError(
            code: reason.statusCode,
            message: message ?? reason.callCancelledMessage,
            cancelReason: reason
        )
    }
}
