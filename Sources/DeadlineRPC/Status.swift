import Wire

/// The outcome of a call: a code and a message. Successful calls end with ``Status/ok``.
public struct Status: Sendable, Hashable, CustomStringConvertible {
    /// The 17 gRPC codes, with their numbers.
    public typealias Code = Wire.StatusCode

    /// The code.
    public var code: Code
    /// A human-readable message.
    public var message: String

    /// Creates a status.
    public init(code: Code, message: String = "") {
        self.code = code
        self.message = message
    }

    /// Success.
    public static let ok = Status(code: .ok)

    /// `CODE: message`.
    public var description: String { message.isEmpty ? "\(code)" : "\(code): \(message)" }
}

extension Status {
    /// The status the runtime reports for `error`, for interceptors that observe outcomes: an ``RPCError``'s own
    /// status, the cancel cause's code for a cancelled task, `unknown` for anything else.
    public init(of error: any Error, cancelReason: CancelReason? = nil) {
        if let error = error as? RPCError {
            self = error.status
        } else if let reason = cancelReason {
            self = Status(code: reason.statusCode, message: reason.callCancelledMessage)
        } else if error is CancellationError {
            self = Status(code: .cancelled, message: "The handler was cancelled.")
        } else {
            self = Status(code: .unknown, message: "The handler threw an error that is not an RPCError.")
        }
    }
}
