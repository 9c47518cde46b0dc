/// The 17 gRPC status codes with their numbers, so habits carry over; carried in `CALL_END` as one byte.
///
/// Codes a receiver does not know (17...255) are kept as they are and read as `unknown` by the runtime.
public struct StatusCode: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The byte on the wire.
    public var rawValue: UInt8

    /// Creates a code from its wire byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The call succeeded.
    public static let ok = StatusCode(rawValue: 0)
    /// The call was cancelled, typically by the caller.
    public static let cancelled = StatusCode(rawValue: 1)
    /// An error that fits no other code, or an error from another space of codes.
    public static let unknown = StatusCode(rawValue: 2)
    /// The caller sent an argument that is invalid regardless of the system's state.
    public static let invalidArgument = StatusCode(rawValue: 3)
    /// The deadline passed before the call completed; never retried within the same budget.
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    /// A requested entity was not found.
    public static let notFound = StatusCode(rawValue: 5)
    /// The entity the caller tried to create already exists.
    public static let alreadyExists = StatusCode(rawValue: 6)
    /// The caller lacks permission for the operation.
    public static let permissionDenied = StatusCode(rawValue: 7)
    /// A resource (streams, memory, quota, message size) is exhausted.
    public static let resourceExhausted = StatusCode(rawValue: 8)
    /// The system is not in a state the operation requires (e.g. strict mode refused a call without deadline).
    public static let failedPrecondition = StatusCode(rawValue: 9)
    /// The operation was aborted, typically by a concurrency conflict.
    public static let aborted = StatusCode(rawValue: 10)
    /// The operation went past a valid range.
    public static let outOfRange = StatusCode(rawValue: 11)
    /// The method is not implemented or not supported by the server.
    public static let unimplemented = StatusCode(rawValue: 12)
    /// An invariant of the system broke: a bug or malformed data.
    public static let `internal` = StatusCode(rawValue: 13)
    /// The service is unavailable right now; the only code a retry policy treats as retryable by default.
    public static let unavailable = StatusCode(rawValue: 14)
    /// Unrecoverable data loss or corruption.
    public static let dataLoss = StatusCode(rawValue: 15)
    /// The caller has no valid authentication credentials.
    public static let unauthenticated = StatusCode(rawValue: 16)

    /// Every code this version defines, in numeric order.
    public static let allDefined: [StatusCode] = (0...16).map { StatusCode(rawValue: $0) }

    /// Whether the code is one of the 17 defined ones.
    public var isDefined: Bool { self.rawValue <= 16 }

    /// Orders codes by number.
    public static func < (lhs: StatusCode, rhs: StatusCode) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The gRPC name, e.g. `DEADLINE_EXCEEDED`.
    public var description: String {
        switch self.rawValue {
        case 0: return "OK"
        case 1: return "CANCELLED"
        case 2: return "UNKNOWN"
        case 3: return "INVALID_ARGUMENT"
        case 4: return "DEADLINE_EXCEEDED"
        case 5: return "NOT_FOUND"
        case 6: return "ALREADY_EXISTS"
        case 7: return "PERMISSION_DENIED"
        case 8: return "RESOURCE_EXHAUSTED"
        case 9: return "FAILED_PRECONDITION"
        case 10: return "ABORTED"
        case 11: return "OUT_OF_RANGE"
        case 12: return "UNIMPLEMENTED"
        case 13: return "INTERNAL"
        case 14: return "UNAVAILABLE"
        case 15: return "DATA_LOSS"
        case 16: return "UNAUTHENTICATED"
        default: return "CODE_\(self.rawValue)"
        }
    }
}
