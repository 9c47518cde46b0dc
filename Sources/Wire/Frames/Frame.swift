import NIOCore

/// One decoded or to-be-encoded frame.
public enum Frame: Sendable, Hashable {
    /// The sender's receive limits; once per side, first after the preface.
    case settings(Settings)
    /// Opens a stream.
    case callStart(CallStart)
    /// A message, or a fragment of one.
    case message(MessageFrame)
    /// The client sends no more messages on the stream.
    case halfClose(streamID: UInt32)
    /// The server ends the call with a status.
    case callEnd(CallEnd)
    /// Either side abandons the stream, saying why.
    case cancel(streamID: UInt32, reason: CancelReason)
    /// Grants `bytes` more message payload on the stream.
    case credit(streamID: UInt32, bytes: UInt32)
    /// A liveness probe, or its answer.
    case ping(PingFrame)
    /// The sender is closing; streams above `lastStreamID` were never processed.
    case goAway(GoAway)

    /// The stream the frame belongs to (0 for connection frames).
    public var streamID: UInt32 {
        switch self {
        case .settings, .ping, .goAway: return 0
        case .callStart(let f): return f.streamID
        case .message(let f): return f.streamID
        case .callEnd(let f): return f.streamID
        case .halfClose(let id), .cancel(let id, _), .credit(let id, _): return id
        }
    }

    /// The frame's type byte.
    public var type: FrameType {
        switch self {
        case .settings: return .settings
        case .callStart: return .callStart
        case .message(let f): return f.messageLength == nil ? .messageContinuation : .message
        case .halfClose: return .halfClose
        case .callEnd: return .callEnd
        case .cancel: return .cancel
        case .credit: return .credit
        case .ping: return .ping
        case .goAway: return .goAway
        }
    }
}

/// The remaining budget of a call and where it started, as carried in `CALL_START`.
///
/// Relative, never wall-clock: hosts need no clock sync. The receiver anchors `remainingMicroseconds` to its own
/// monotonic clock when the frame arrives.
public struct WireBudget: Sendable, Hashable {
    /// Microseconds left when the frame was written; zero or negative means already spent.
    public var remainingMicroseconds: Int64
    /// The budget the first caller in the chain set, in microseconds (0 when unknown), for per-hop attribution.
    public var originalMicroseconds: Int64

    /// Creates a budget.
    public init(remainingMicroseconds: Int64, originalMicroseconds: Int64) {
        self.remainingMicroseconds = remainingMicroseconds
        self.originalMicroseconds = originalMicroseconds
    }
}

/// `CALL_START`: opens a stream for one call.
public struct CallStart: Sendable, Hashable {
    /// The new stream's id: odd, and greater than every id the client used before on this connection.
    public var streamID: UInt32
    /// The method's full name, e.g. `echo.Echo/Get` (printable ASCII, 1 ... 1024 bytes).
    public var method: String
    /// The remaining budget; nil means the call has no deadline.
    public var budget: WireBudget?
    /// How many calls lie above this one in the chain (0 for a call not made while serving another).
    public var hopCount: UInt8
    /// The encoding of this stream's compressed messages, both directions.
    public var encoding: MessageEncoding
    /// Request metadata.
    public var metadata: Metadata

    /// Creates a call start.
    public init(
        streamID: UInt32,
        method: String,
        budget: WireBudget? = nil,
        hopCount: UInt8 = 0,
        encoding: MessageEncoding = .identity,
        metadata: Metadata = Metadata()
    ) {
        self.streamID = streamID
        self.method = method
        self.budget = budget
        self.hopCount = hopCount
        self.encoding = encoding
        self.metadata = metadata
    }
}

/// `MESSAGE` or `MESSAGE_CONTINUATION`: a whole message or one fragment of it.
public struct MessageFrame: Sendable, Hashable {
    /// The stream.
    public var streamID: UInt32
    /// The whole message's length in bytes (as sent), present only on the first frame of a message (`MESSAGE`);
    /// nil on continuation frames.
    public var messageLength: UInt32?
    /// This frame's share of the message bytes.
    public var data: ByteBuffer
    /// More fragments of this message follow in `MESSAGE_CONTINUATION` frames.
    public var more: Bool
    /// The sender sends nothing more on the stream after this message.
    public var endStream: Bool
    /// The message is compressed with the stream's encoding (first frame only).
    public var compressed: Bool

    /// Creates a message frame.
    public init(
        streamID: UInt32,
        messageLength: UInt32?,
        data: ByteBuffer,
        more: Bool = false,
        endStream: Bool = false,
        compressed: Bool = false
    ) {
        self.streamID = streamID
        self.messageLength = messageLength
        self.data = data
        self.more = more
        self.endStream = endStream
        self.compressed = compressed
    }

    /// `MESSAGE` for the first frame of a message, `MESSAGE_CONTINUATION` for the others.
    public var type: FrameType { self.messageLength == nil ? .messageContinuation : .message }

    /// A whole message in one frame.
    public static func whole(streamID: UInt32, _ data: ByteBuffer, endStream: Bool = false, compressed: Bool = false)
        -> MessageFrame
    {
        MessageFrame(
            streamID: streamID,
            messageLength: UInt32(data.readableBytes),
            data: data,
            endStream: endStream,
            compressed: compressed
        )
    }
}

/// `CALL_END`: the server's final word on a call.
public struct CallEnd: Sendable, Hashable {
    /// The stream.
    public var streamID: UInt32
    /// The status code.
    public var status: StatusCode
    /// A human-readable message (UTF-8), empty on success.
    public var message: String
    /// Trailing metadata.
    public var metadata: Metadata

    /// Creates a call end.
    public init(streamID: UInt32, status: StatusCode, message: String = "", metadata: Metadata = Metadata()) {
        self.streamID = streamID
        self.status = status
        self.message = message
        self.metadata = metadata
    }
}

/// `PING`: 8 opaque bytes, echoed back with the ack flag.
public struct PingFrame: Sendable, Hashable {
    /// The opaque payload (a sender typically puts its monotonic send time here to measure RTT).
    public var payload: UInt64
    /// Whether this answers a ping.
    public var ack: Bool

    /// Creates a ping.
    public init(payload: UInt64, ack: Bool) {
        self.payload = payload
        self.ack = ack
    }
}

/// `GOAWAY`: the sender is closing the connection.
public struct GoAway: Sendable, Hashable {
    /// The highest stream id the sender accepted (and will finish); streams above it were never processed and
    /// are safe to retry elsewhere.
    public var lastStreamID: UInt32
    /// Why.
    public var code: GoAwayCode
    /// A human-readable reason (UTF-8); invalid bytes are replaced on receipt, never an error.
    public var reason: String

    /// Creates a goaway.
    public init(lastStreamID: UInt32, code: GoAwayCode, reason: String) {
        self.lastStreamID = lastStreamID
        self.code = code
        self.reason = reason
    }
}
