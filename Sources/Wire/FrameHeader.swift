import NIOCore

/// The fixed 10-byte header in front of every frame: payload length, type, flags and stream id.
///
/// Fixed width means a decoder never guesses: it reads exactly ten bytes, checks the length against its limit, and
/// only then waits for the payload.
public struct FrameHeader: Sendable, Hashable {
    /// Bytes on the wire taken by a header.
    public static let size = 10

    /// Length of the payload that follows the header, in bytes.
    public var length: UInt32
    /// The frame's type (`FrameType`); unknown types are skipped by receivers.
    public var type: FrameType
    /// Type-specific flag bits.
    public var flags: UInt8
    /// The stream the frame belongs to; 0 for connection-level frames.
    public var streamID: UInt32

    /// Creates a header.
    public init(length: UInt32, type: FrameType, flags: UInt8, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }
}

/// Identifies what a frame's payload holds.
public struct FrameType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The byte on the wire.
    public var rawValue: UInt8

    /// Creates a frame type from its wire byte (known or not).
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Connection settings; exactly once per side, right after the preface.
    public static let settings = FrameType(rawValue: 0x0)
    /// Opens a stream: method, remaining budget, metadata, message encoding.
    public static let callStart = FrameType(rawValue: 0x1)
    /// The first (or only) frame of a message, carrying the message's total length.
    public static let message = FrameType(rawValue: 0x2)
    /// A further fragment of a message begun by a `message` frame.
    public static let messageContinuation = FrameType(rawValue: 0x3)
    /// The client has no more messages to send on this stream.
    public static let halfClose = FrameType(rawValue: 0x4)
    /// The server ends the call: status code, status message, trailing metadata.
    public static let callEnd = FrameType(rawValue: 0x5)
    /// Either side abandons a stream, with a typed cause.
    public static let cancel = FrameType(rawValue: 0x6)
    /// Grants the peer more bytes of message payload on one stream.
    public static let credit = FrameType(rawValue: 0x7)
    /// Liveness and round-trip time; answered with the ack flag set.
    public static let ping = FrameType(rawValue: 0x8)
    /// The sender will accept no streams above `lastStreamID` and is closing.
    public static let goAway = FrameType(rawValue: 0x9)

    /// Whether this version of the protocol defines the type.
    public var isKnown: Bool { self.rawValue <= 0x9 }

    /// Control frames are written ahead of queued message data so a cancel is never stuck behind bulk data.
    public var isControl: Bool {
        switch self {
        case .cancel, .credit, .ping, .goAway, .settings: return true
        default: return false
        }
    }

    /// A readable name, or the hex byte for unknown types.
    public var description: String {
        switch self {
        case .settings: return "SETTINGS"
        case .callStart: return "CALL_START"
        case .message: return "MESSAGE"
        case .messageContinuation: return "MESSAGE_CONTINUATION"
        case .halfClose: return "HALF_CLOSE"
        case .callEnd: return "CALL_END"
        case .cancel: return "CANCEL"
        case .credit: return "CREDIT"
        case .ping: return "PING"
        case .goAway: return "GOAWAY"
        default: return "UNKNOWN(0x\(String(self.rawValue, radix: 16)))"
        }
    }
}

/// Flag bits, by frame type. A bit not listed for a type is undefined: receivers ignore it and count it.
public enum FrameFlags {
    /// `CALL_START`: the payload carries a remaining budget (a deadline).
    public static let hasDeadline: UInt8 = 0x01
    /// `MESSAGE` / `MESSAGE_CONTINUATION`: the sender sends nothing more on this stream after this message.
    public static let endStream: UInt8 = 0x01
    /// `MESSAGE` / `MESSAGE_CONTINUATION`: the message continues in the next `MESSAGE_CONTINUATION` frame.
    public static let more: UInt8 = 0x02
    /// `MESSAGE`: the message bytes are compressed with the stream's message encoding.
    public static let compressed: UInt8 = 0x04
    /// `PING`: this ping answers one received.
    public static let ack: UInt8 = 0x01

    /// The flags each type defines; everything else is ignored and counted.
    static func defined(for type: FrameType) -> UInt8 {
        switch type {
        case .callStart: return hasDeadline
        case .message: return endStream | more | compressed
        case .messageContinuation: return endStream | more
        case .ping: return ack
        default: return 0
        }
    }
}
