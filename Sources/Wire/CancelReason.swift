/// The typed cause carried in a `CANCEL` frame, so "cancelled" and "deadline exceeded" are never ambiguous.
///
/// A hop that cancels its own downstream calls because its call was cancelled forwards the cause it received.
public struct CancelReason: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The byte on the wire.
    public var rawValue: UInt8

    /// Creates a reason from its wire byte (known or not).
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The caller gave up (its task was cancelled).
    public static let cancelled = CancelReason(rawValue: 0)
    /// The call's deadline passed.
    public static let deadlineExceeded = CancelReason(rawValue: 1)
    /// The sender is shutting down and abandons the call.
    public static let shuttingDown = CancelReason(rawValue: 2)
    /// A sibling in a fan-out failed, so this call's result is no longer needed.
    public static let siblingFailed = CancelReason(rawValue: 3)
    /// Another attempt of a hedged call won the race.
    public static let hedgeLost = CancelReason(rawValue: 4)
    /// The sender refused or abandoned the stream because a resource limit was hit.
    public static let resourceLimit = CancelReason(rawValue: 5)
    /// The peer sent something invalid for this stream only (e.g. malformed metadata in a reply).
    public static let streamError = CancelReason(rawValue: 6)

    /// The status a call cancelled for this reason ends with.
    public var statusCode: StatusCode {
        switch self {
        case .deadlineExceeded: return .deadlineExceeded
        case .shuttingDown: return .unavailable
        case .resourceLimit: return .resourceExhausted
        case .streamError: return .internal
        default: return .cancelled
        }
    }

    /// A readable name, or the number for unknown reasons.
    public var description: String {
        switch self.rawValue {
        case 0: return "cancelled"
        case 1: return "deadline exceeded"
        case 2: return "shutting down"
        case 3: return "sibling failed"
        case 4: return "hedge lost"
        case 5: return "resource limit"
        case 6: return "stream error"
        default: return "reason \(self.rawValue)"
        }
    }
}
