/// Everything that can be wrong with bytes from a peer, as one error type with an extensible code.
///
/// An error is either **connection-level** (``goAwayCode`` is set: the receiver sends `GOAWAY` with that code and
/// the message as reason, then closes) or **stream-level** (``statusCode`` is set: only that call ends, with that
/// status, and the connection lives on). Never both.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a value that can grow without breaking users.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Wrapped: String, Sendable, Hashable {
            case badPreface, unsupportedVersion, expectedSettings, duplicateSettings, invalidSetting
            case frameTooLarge, badFrameLength, streamIDRequired, streamIDForbidden, reservedBitSet, malformedFrame
            case protocolViolation, flowControlViolation, enhanceYourCalm, timeout, tooManyPings
            case malformedCallStart, malformedCallEnd, invalidMethodName, invalidUTF8
            case metadataTooLarge, tooManyMetadataEntries, invalidMetadataKey, reservedMetadataKey, invalidMetadataValue
            case messageTooLarge, decompressedMessageTooLarge, corruptCompressedData, unsupportedEncoding
            case compressedWithoutEncoding
        }
        let wrapped: Wrapped
        init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The preface's magic or terminator is wrong: not a DeadlineRPC peer.
        public static let badPreface = Code(.badPreface)
        /// The preface names a protocol version this side does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The first frame after the preface is not `SETTINGS`.
        public static let expectedSettings = Code(.expectedSettings)
        /// A second `SETTINGS` frame arrived.
        public static let duplicateSettings = Code(.duplicateSettings)
        /// A setting's value is outside its range.
        public static let invalidSetting = Code(.invalidSetting)
        /// A frame's declared length exceeds the frame size limit (decided from the header alone).
        public static let frameTooLarge = Code(.frameTooLarge)
        /// A fixed-size frame (ping, cancel, credit, half-close, settings) has the wrong length.
        public static let badFrameLength = Code(.badFrameLength)
        /// A stream frame arrived with stream id 0.
        public static let streamIDRequired = Code(.streamIDRequired)
        /// A connection frame arrived with a non-zero stream id.
        public static let streamIDForbidden = Code(.streamIDForbidden)
        /// The reserved top bit of the stream id is set.
        public static let reservedBitSet = Code(.reservedBitSet)
        /// A frame's payload does not match its declared structure.
        public static let malformedFrame = Code(.malformedFrame)
        /// A frame is invalid for the state of its stream or connection (state machine violation).
        public static let protocolViolation = Code(.protocolViolation)
        /// The peer sent more message bytes than its credit.
        public static let flowControlViolation = Code(.flowControlViolation)
        /// The peer spent a flood budget (resets, empty frames, unknown frames, pings, induced failures).
        public static let enhanceYourCalm = Code(.enhanceYourCalm)
        /// The preface, settings or first frame did not arrive in time, or the connection idled out.
        public static let timeout = Code(.timeout)
        /// Pings arrived more often than the ping policy allows.
        public static let tooManyPings = Code(.tooManyPings)
        /// A `CALL_START` payload is truncated or inconsistent (including its deadline fields).
        public static let malformedCallStart = Code(.malformedCallStart)
        /// A `CALL_END` payload is truncated or inconsistent.
        public static let malformedCallEnd = Code(.malformedCallEnd)
        /// The method name is empty, too long or not printable ASCII.
        public static let invalidMethodName = Code(.invalidMethodName)
        /// A status message is not valid UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// A metadata block's declared length exceeds the metadata limit.
        public static let metadataTooLarge = Code(.metadataTooLarge)
        /// A metadata block has more entries than allowed.
        public static let tooManyMetadataEntries = Code(.tooManyMetadataEntries)
        /// A metadata key breaks the key syntax.
        public static let invalidMetadataKey = Code(.invalidMetadataKey)
        /// A metadata key uses the runtime's reserved prefix.
        public static let reservedMetadataKey = Code(.reservedMetadataKey)
        /// A metadata value breaks the value rules for its key.
        public static let invalidMetadataValue = Code(.invalidMetadataValue)
        /// A message's declared length exceeds the message limit.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// A compressed message inflates beyond the message limit.
        public static let decompressedMessageTooLarge = Code(.decompressedMessageTooLarge)
        /// Compressed data is corrupt or truncated.
        public static let corruptCompressedData = Code(.corruptCompressedData)
        /// The stream names an encoding this side does not support.
        public static let unsupportedEncoding = Code(.unsupportedEncoding)
        /// A message is flagged compressed on a stream whose encoding is identity.
        public static let compressedWithoutEncoding = Code(.compressedWithoutEncoding)

        /// The code's name.
        public var description: String { self.wrapped.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// A full sentence that names the likely culprit; it becomes the goaway reason or status message.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The goaway code for a connection-level error; nil for a stream-level one.
    public var goAwayCode: GoAwayCode? {
        switch self.code.wrapped {
        case .badPreface: return .badPreface
        case .unsupportedVersion: return .unsupportedVersion
        case .expectedSettings, .duplicateSettings, .invalidSetting, .streamIDRequired, .streamIDForbidden,
            .reservedBitSet, .malformedFrame, .protocolViolation:
            return .protocolError
        case .frameTooLarge, .badFrameLength: return .frameSizeError
        case .flowControlViolation: return .flowControlError
        case .enhanceYourCalm: return .enhanceYourCalm
        case .timeout: return .timeout
        case .tooManyPings: return .tooManyPings
        default: return nil
        }
    }

    /// The status that ends the one call for a stream-level error; nil for a connection-level one.
    public var statusCode: StatusCode? {
        switch self.code.wrapped {
        case .malformedCallStart, .malformedCallEnd, .invalidUTF8, .corruptCompressedData, .compressedWithoutEncoding:
            return .internal
        case .invalidMethodName, .invalidMetadataKey, .reservedMetadataKey, .invalidMetadataValue:
            return .invalidArgument
        case .metadataTooLarge, .tooManyMetadataEntries, .messageTooLarge, .decompressedMessageTooLarge:
            return .resourceExhausted
        case .unsupportedEncoding:
            return .unimplemented
        default:
            return nil
        }
    }

    /// Whether the whole connection must end.
    public var isConnectionError: Bool { self.goAwayCode != nil }

    /// `code: message`.
    public var description: String { "\(self.code): \(self.message)" }
}
