/// Why a connection is closing, carried in `GOAWAY`.
public struct GoAwayCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The 32-bit value on the wire.
    public var rawValue: UInt32

    /// Creates a code from its wire value (known or not).
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Graceful shutdown: nothing went wrong.
    public static let noError = GoAwayCode(rawValue: 0)
    /// The peer broke a rule of the protocol (wrong frame for the state, stream id rules, bad field).
    public static let protocolError = GoAwayCode(rawValue: 1)
    /// The sender hit an internal failure.
    public static let internalError = GoAwayCode(rawValue: 2)
    /// The peer sent more message bytes than the credit it was granted.
    public static let flowControlError = GoAwayCode(rawValue: 3)
    /// The preface or settings did not arrive in time, or the connection sat idle too long.
    public static let timeout = GoAwayCode(rawValue: 4)
    /// A frame's length broke the frame size limit or a fixed-size frame had the wrong length.
    public static let frameSizeError = GoAwayCode(rawValue: 5)
    /// The peer is flooding: pings, resets, empty frames, unknown frames or induced failures past their budget.
    public static let enhanceYourCalm = GoAwayCode(rawValue: 6)
    /// The preface had a version this side does not speak.
    public static let unsupportedVersion = GoAwayCode(rawValue: 7)
    /// Pings arrived more often than the ping policy allows.
    public static let tooManyPings = GoAwayCode(rawValue: 8)
    /// The magic was wrong: this is not a DeadlineRPC peer.
    public static let badPreface = GoAwayCode(rawValue: 9)

    /// A readable name, or the number for unknown codes.
    public var description: String {
        switch self.rawValue {
        case 0: return "NO_ERROR"
        case 1: return "PROTOCOL_ERROR"
        case 2: return "INTERNAL_ERROR"
        case 3: return "FLOW_CONTROL_ERROR"
        case 4: return "TIMEOUT"
        case 5: return "FRAME_SIZE_ERROR"
        case 6: return "ENHANCE_YOUR_CALM"
        case 7: return "UNSUPPORTED_VERSION"
        case 8: return "TOO_MANY_PINGS"
        case 9: return "BAD_PREFACE"
        default: return "GOAWAY_CODE_\(self.rawValue)"
        }
    }
}
