import NIOCore

/// What the decoder yields: a frame, or a frame that is malformed in a way that ends only its call.
public enum DecodedFrame: Sendable, Hashable {
    /// A valid frame.
    case frame(Frame)
    /// The frame on `streamID` breaks a per-call rule (metadata, method name, message size, status message); the
    /// receiver ends that call with `error.statusCode` and keeps the connection. The frame's bytes were consumed.
    case streamError(streamID: UInt32, type: FrameType, error: WireError)
}

/// An incremental decoder: ``append(_:)`` bytes as they arrive, split anywhere, then call ``nextFrame()`` until it
/// returns nil.
///
/// Every length from the peer is checked against ``limits`` before anything of that size is buffered or allocated;
/// a frame whose header announces too much is refused from the header alone. Connection-level errors are thrown
/// and sticky: once failed, the decoder throws the same error forever.
public struct FrameDecoder: Sendable {
    enum State: Sendable, Hashable {
        case awaitingPreface
        case awaitingSettings
        case ready
        case failed(WireError)
    }

    /// The receive limits enforced.
    public var limits: WireLimits
    private var state: State
    /// The bytes being decoded: a read as it arrived, or the start of a frame that a read ended inside followed by
    /// just the bytes of later reads that complete it.
    private var buffer: ByteBuffer
    /// Reads that arrived while `buffer` still held part of a frame, in order. Only what completes that frame is
    /// copied out of the first one; then the next read is decoded as it is, so the bytes of a read are copied at most
    /// once per frame boundary it holds rather than all of them, and frame payloads stay slices of the reads.
    private var queued: [ByteBuffer] = []
    /// Whether a `SETTINGS` frame was decoded; a second one is a protocol error (also when decoding bare frames).
    private var receivedSettings = false
    /// Frames skipped because of an unknown type, plus frames that carried undefined flag bits; the connection
    /// watches it to stop floods of junk.
    public private(set) var ignoredFrameCount: Int = 0
    /// Method names seen lately: a connection calls the same few methods over and over, and reusing the `String`
    /// saves an allocation and a copy per call (a name longer than 15 bytes is not stored inline).
    private var recentMethods: [String] = []
    private var nextRecentMethod = 0
    /// How many method names are remembered (replaced round-robin, so a peer cycling names only misses).
    static let recentMethodCount = 8

    /// Creates a decoder.
    /// - Parameters:
    ///   - limits: the receive limits to enforce (and that the owner advertises).
    ///   - expectPreface: whether the stream starts with the preface and then a `SETTINGS` frame (true on a real
    ///     connection; false to decode bare frames, e.g. in tests).
    public init(limits: WireLimits = .default, expectPreface: Bool = true) {
        self.limits = limits
        self.state = expectPreface ? .awaitingPreface : .ready
        self.buffer = ByteBuffer()
    }

    /// Bytes buffered but not yet decoded (never more than one frame header plus one frame payload, and never
    /// more than the limits allow).
    public var bufferedBytes: Int { self.queued.reduce(self.buffer.readableBytes) { $0 + $1.readableBytes } }

    /// Adds bytes from the peer.
    public mutating func append(_ bytes: ByteBuffer) {
        if self.buffer.readableBytes == 0 && self.queued.isEmpty {
            // Adopting the buffer avoids a copy in the common case of whole frames per read.
            self.buffer = bytes
        } else if bytes.readableBytes > 0 {
            self.queued.append(bytes)
        }
    }

    /// Adds bytes from the peer.
    public mutating func append<Bytes: Sequence>(contentsOf bytes: Bytes) where Bytes.Element == UInt8 {
        if self.queued.isEmpty {
            self.discardConsumedBytes()
            self.buffer.writeBytes(bytes)
        } else {
            self.queued.append(ByteBuffer(bytes: bytes))
        }
    }

    /// Whether `buffer` holds at least `count` bytes, after moving into it from the queued reads what it lacks and
    /// no more (all there is when that is not enough). An empty `buffer` takes the next read as it is.
    private mutating func gather(_ count: Int) -> Bool {
        while self.buffer.readableBytes < count && !self.queued.isEmpty {
            if self.buffer.readableBytes == 0 {
                self.buffer = self.queued.removeFirst()
                continue
            }
            self.discardConsumedBytes()
            var chunk = self.queued[0].readSlice(length: min(count - self.buffer.readableBytes, self.queued[0].readableBytes))!
            self.buffer.writeBuffer(&chunk)
            if self.queued[0].readableBytes == 0 { self.queued.removeFirst() }
        }
        return self.buffer.readableBytes >= count
    }

    /// Drops decoded bytes from the front of the buffer before it grows, so a connection whose reads keep ending
    /// inside a frame holds about one frame, not everything it ever received. Only when the consumed part is at
    /// least as large as the rest, so the bytes moved are paid for by the bytes dropped.
    private mutating func discardConsumedBytes() {
        if self.buffer.readerIndex > 0 && self.buffer.readerIndex >= self.buffer.readableBytes {
            self.buffer.discardReadBytes()
        }
    }

    /// Decodes the next complete frame, or returns nil when more bytes are needed.
    public mutating func nextFrame() throws(WireError) -> DecodedFrame? {
        while true {
            switch self.state {
            case .failed(let error):
                throw error
            case .awaitingPreface:
                do throws(WireError) {
                    guard try self.decodePreface() else { return nil }
                } catch {
                    self.state = .failed(error)
                    throw error
                }
                self.state = .awaitingSettings
            case .awaitingSettings, .ready:
                do throws(WireError) {
                    guard let result = try self.decodeFrame() else { return nil }
                    if let decoded = result { return decoded }
                    // A skipped unknown frame: look for the next one.
                } catch {
                    self.state = .failed(error)
                    throw error
                }
            }
        }
    }

    /// Returns true once the preface is consumed; fails on the first wrong byte without waiting for all eight.
    private mutating func decodePreface() throws(WireError) -> Bool {
        _ = self.gather(Preface.size)
        let available = min(self.buffer.readableBytes, Preface.size)
        guard let prefix = self.buffer.getBytes(at: self.buffer.readerIndex, length: available) else { return false }
        for (index, byte) in prefix.prefix(4).enumerated() where byte != Preface.magic[index] {
            throw WireError(.badPreface, "The connection did not start with the DeadlineRPC magic 'DRPC': this is not a DeadlineRPC peer, or the wrong port.")
        }
        guard available == Preface.size else { return false }
        let version = UInt16(prefix[4]) << 8 | UInt16(prefix[5])
        if prefix[6] != 0x0D || prefix[7] != 0x0A {
            throw WireError(.badPreface, "The preface must end with CR LF after the version.")
        }
        if version != Preface.version {
            throw WireError(.unsupportedVersion, "The peer speaks protocol version \(version); this side speaks version \(Preface.version).")
        }
        self.buffer.moveReaderIndex(forwardBy: Preface.size)
        return true
    }

    /// Decodes one frame. Returns nil when more bytes are needed, `.some(nil)` when a frame was skipped.
    private mutating func decodeFrame() throws(WireError) -> DecodedFrame?? {
        guard
            self.gather(FrameHeader.size),
            let (length, typeByte, flags, rawStreamID) = self.buffer.getMultipleIntegers(
                at: self.buffer.readerIndex,
                endianness: .big,
                as: (UInt32, UInt8, UInt8, UInt32).self
            )
        else { return nil }
        let type = FrameType(rawValue: typeByte)
        try self.validateHeader(length: length, type: type, streamID: rawStreamID)
        guard self.gather(FrameHeader.size + Int(length)) else { return nil }

        self.buffer.moveReaderIndex(forwardBy: FrameHeader.size)
        let payload = self.buffer.readSlice(length: Int(length))!
        if self.buffer.readableBytes == 0 {
            // Drop our reference to consumed storage so slices handed out stay the only owners.
            self.buffer = ByteBuffer()
        }
        guard type.isKnown else {
            self.ignoredFrameCount += 1
            return .some(nil)
        }
        if flags & ~FrameFlags.defined(for: type) != 0 {
            self.ignoredFrameCount += 1
        }
        return .some(try self.parse(type: type, flags: flags, streamID: rawStreamID, payload: payload))
    }

    /// Everything that can be decided from the header alone, before any payload is buffered.
    private func validateHeader(length: UInt32, type: FrameType, streamID: UInt32) throws(WireError) {
        if length > UInt32(self.limits.maxFrameSize) {
            throw WireError(.frameTooLarge, "A \(type) frame declares \(length) bytes; the limit is \(self.limits.maxFrameSize) bytes.")
        }
        if streamID & 0x8000_0000 != 0 {
            throw WireError(.reservedBitSet, "The reserved top bit of the stream id is set in a \(type) frame.")
        }
        if case .awaitingSettings = self.state, type != .settings {
            throw WireError(.expectedSettings, "The first frame after the preface must be SETTINGS, not \(type).")
        }
        switch type {
        case .settings:
            if self.receivedSettings {
                throw WireError(.duplicateSettings, "SETTINGS may be sent only once, right after the preface.")
            }
            if length % 6 != 0 || length > UInt32(Settings.maxEntries * 6) {
                throw WireError(.badFrameLength, "A SETTINGS payload is a multiple of 6 bytes, at most \(Settings.maxEntries) entries; got \(length) bytes.")
            }
        case .ping:
            if length != 8 { throw WireError(.badFrameLength, "A PING payload is 8 bytes; got \(length).") }
        case .cancel:
            if length != 1 { throw WireError(.badFrameLength, "A CANCEL payload is 1 byte; got \(length).") }
        case .credit:
            if length != 4 { throw WireError(.badFrameLength, "A CREDIT payload is 4 bytes; got \(length).") }
        case .halfClose:
            if length != 0 { throw WireError(.badFrameLength, "A HALF_CLOSE frame has no payload; got \(length) bytes.") }
        case .message:
            if length < 4 { throw WireError(.badFrameLength, "A MESSAGE payload starts with a 4-byte message length; got \(length) bytes.") }
        case .goAway:
            if length < 10 { throw WireError(.badFrameLength, "A GOAWAY payload is at least 10 bytes; got \(length).") }
        default:
            break
        }
        guard type.isKnown else { return }
        let isConnectionFrame = type == .settings || type == .ping || type == .goAway
        if isConnectionFrame && streamID != 0 {
            throw WireError(.streamIDForbidden, "\(type) is a connection frame and must carry stream id 0, not \(streamID).")
        }
        if !isConnectionFrame && streamID == 0 {
            throw WireError(.streamIDRequired, "\(type) belongs to a stream and must not carry stream id 0.")
        }
    }

    private mutating func parse(type: FrameType, flags: UInt8, streamID: UInt32, payload: ByteBuffer)
        throws(WireError) -> DecodedFrame
    {
        var payload = payload
        switch type {
        case .settings:
            self.state = .ready
            self.receivedSettings = true
            return .frame(.settings(try Self.parseSettings(&payload)))
        case .callStart:
            do throws(WireError) {
                return .frame(.callStart(try self.parseCallStart(&payload, flags: flags, streamID: streamID)))
            } catch {
                return .streamError(streamID: streamID, type: type, error: error)
            }
        case .message, .messageContinuation:
            var messageLength: UInt32? = nil
            if type == .message {
                let length = payload.readInteger(endianness: .big, as: UInt32.self)!
                if length > UInt32(self.limits.maxMessageSize) {
                    return .streamError(
                        streamID: streamID,
                        type: type,
                        error: WireError(.messageTooLarge, "A message of \(length) bytes exceeds the limit of \(self.limits.maxMessageSize) bytes.")
                    )
                }
                messageLength = length
            }
            let more = flags & FrameFlags.more != 0
            let endStream = flags & FrameFlags.endStream != 0
            if more && endStream {
                throw WireError(.malformedFrame, "A \(type) frame may not set both MORE and END_STREAM: end the stream on the message's last frame.")
            }
            if let messageLength {
                let chunk = UInt32(payload.readableBytes)
                if chunk > messageLength || (chunk < messageLength) != more {
                    throw WireError(.malformedFrame, "A MESSAGE frame carries \(chunk) of \(messageLength) bytes but its MORE flag is \(more ? "set" : "clear").")
                }
            }
            return .frame(
                .message(
                    MessageFrame(
                        streamID: streamID,
                        messageLength: messageLength,
                        data: payload,
                        more: more,
                        endStream: endStream,
                        compressed: type == .message && flags & FrameFlags.compressed != 0
                    )
                )
            )
        case .halfClose:
            return .frame(.halfClose(streamID: streamID))
        case .callEnd:
            do throws(WireError) {
                return .frame(.callEnd(try self.parseCallEnd(&payload, streamID: streamID)))
            } catch {
                return .streamError(streamID: streamID, type: type, error: error)
            }
        case .cancel:
            return .frame(.cancel(streamID: streamID, reason: CancelReason(rawValue: payload.readInteger()!)))
        case .credit:
            return .frame(.credit(streamID: streamID, bytes: payload.readInteger(endianness: .big)!))
        case .ping:
            let value = payload.readInteger(endianness: .big, as: UInt64.self)!
            return .frame(.ping(PingFrame(payload: value, ack: flags & FrameFlags.ack != 0)))
        case .goAway:
            let (last, code, reasonLength) = payload.readMultipleIntegers(
                endianness: .big,
                as: (UInt32, UInt32, UInt16).self
            )!
            guard let reasonBytes = payload.readBytes(length: Int(reasonLength)), payload.readableBytes == 0 else {
                throw WireError(.malformedFrame, "A GOAWAY frame's reason length does not match its payload.")
            }
            return .frame(
                .goAway(
                    GoAway(
                        lastStreamID: last & 0x7FFF_FFFF,
                        code: GoAwayCode(rawValue: code),
                        reason: String(decoding: reasonBytes, as: UTF8.self)
                    )
                )
            )
        default:
            preconditionFailure("unknown frame types are skipped before parsing")
        }
    }

    private static func parseSettings(_ payload: inout ByteBuffer) throws(WireError) -> Settings {
        var settings = Settings.default
        while let (id, value) = payload.readMultipleIntegers(endianness: .big, as: (UInt16, UInt32).self) {
            switch id {
            case Settings.Identifier.maxFrameSize:
                guard value >= UInt32(WireLimits.minimumFrameSize) && value <= UInt32(WireLimits.maximumFrameSize) else {
                    throw WireError(.invalidSetting, "maxFrameSize \(value) is outside \(WireLimits.minimumFrameSize) ... \(WireLimits.maximumFrameSize).")
                }
                settings.maxFrameSize = value
            case Settings.Identifier.maxConcurrentStreams:
                settings.maxConcurrentStreams = value
            case Settings.Identifier.initialStreamCredit:
                guard value <= Settings.maxCredit else {
                    throw WireError(.invalidSetting, "initialStreamCredit \(value) exceeds 2^31 - 1.")
                }
                settings.initialStreamCredit = value
            case Settings.Identifier.maxMessageSize:
                settings.maxMessageSize = value
            case Settings.Identifier.maxMetadataSize:
                settings.maxMetadataSize = value
            case Settings.Identifier.maxMetadataEntries:
                guard value <= UInt32(UInt16.max) else {
                    throw WireError(.invalidSetting, "maxMetadataEntries \(value) exceeds 65535.")
                }
                settings.maxMetadataEntries = value
            case Settings.Identifier.acceptedEncodings:
                settings.acceptedEncodings = value
            default:
                continue  // Unknown settings are ignored, so later versions can add some.
            }
        }
        return settings
    }

    private mutating func parseCallStart(_ payload: inout ByteBuffer, flags: UInt8, streamID: UInt32) throws(WireError) -> CallStart {
        var budget: WireBudget? = nil
        if flags & FrameFlags.hasDeadline != 0 {
            guard let (remaining, original) = payload.readMultipleIntegers(endianness: .big, as: (Int64, Int64).self) else {
                throw WireError(.malformedCallStart, "CALL_START has the deadline flag but its payload is too short for the budget fields.")
            }
            budget = WireBudget(remainingMicroseconds: remaining, originalMicroseconds: original)
        }
        guard
            let (hops, encoding, methodLength) = payload.readMultipleIntegers(
                endianness: .big,
                as: (UInt8, UInt8, UInt16).self
            )
        else {
            throw WireError(.malformedCallStart, "CALL_START payload is too short for its fixed fields.")
        }
        guard methodLength > 0, Int(methodLength) <= WireLimits.maxMethodLength,
            let methodView = payload.readSlice(length: Int(methodLength))
        else {
            throw WireError(.invalidMethodName, "CALL_START's method name is empty, longer than \(WireLimits.maxMethodLength) bytes, or truncated.")
        }
        guard let method = self.methodName(methodView) else {
            throw WireError(.invalidMethodName, "CALL_START's method name must be printable ASCII without spaces.")
        }
        let metadata = try self.parseMetadata(&payload, errorCode: .malformedCallStart)
        guard payload.readableBytes == 0 else {
            throw WireError(.malformedCallStart, "CALL_START has \(payload.readableBytes) bytes after its metadata block.")
        }
        return CallStart(
            streamID: streamID,
            method: method,
            budget: budget,
            hopCount: hops,
            encoding: MessageEncoding(rawValue: encoding),
            metadata: metadata
        )
    }

    /// The method name in `bytes`, reusing a recently seen `String` with the same bytes; nil unless every byte is
    /// printable ASCII without spaces.
    private mutating func methodName(_ bytes: ByteBuffer) -> String? {
        let known: String? = bytes.withUnsafeReadableBytes { raw in
            for name in self.recentMethods where name.utf8.count == raw.count {
                // A byte loop over the name's contiguous UTF-8 rather than `elementsEqual`'s walk of `String.UTF8View`
                // indices (~800 instructions for a 14-byte name).
                let equal = name.utf8.withContiguousStorageIfAvailable { known in
                    var index = 0
                    while index < raw.count, known[index] == raw[index] { index += 1 }
                    return index == raw.count
                } ?? name.utf8.elementsEqual(raw)
                if equal { return name }
            }
            return nil
        }
        if let known { return known }
        let method: String? = bytes.withUnsafeReadableBytes { raw in
            raw.allSatisfy { $0 > 0x20 && $0 < 0x7F } ? String(decoding: raw, as: UTF8.self) : nil
        }
        guard let method else { return nil }
        if self.recentMethods.count < Self.recentMethodCount {
            self.recentMethods.append(method)
        } else {
            self.recentMethods[self.nextRecentMethod] = method
            self.nextRecentMethod = (self.nextRecentMethod + 1) % Self.recentMethodCount
        }
        return method
    }

    private func parseCallEnd(_ payload: inout ByteBuffer, streamID: UInt32) throws(WireError) -> CallEnd {
        guard let (status, messageLength) = payload.readMultipleIntegers(endianness: .big, as: (UInt8, UInt16).self),
            payload.readableBytes >= Int(messageLength)
        else {
            throw WireError(.malformedCallEnd, "CALL_END payload is too short for its status fields.")
        }
        let message: String
        if messageLength == 0 {
            // Most calls end OK with no message: skip the validator's set-up (over 1,000 instructions for nothing).
            message = ""
        } else {
            do {
                message = try payload.readUTF8ValidatedString(length: Int(messageLength)) ?? ""
            } catch {
                throw WireError(.invalidUTF8, "CALL_END's status message is not valid UTF-8.")
            }
        }
        let metadata = try self.parseMetadata(&payload, errorCode: .malformedCallEnd)
        guard payload.readableBytes == 0 else {
            throw WireError(.malformedCallEnd, "CALL_END has \(payload.readableBytes) bytes after its metadata block.")
        }
        return CallEnd(streamID: streamID, status: StatusCode(rawValue: status), message: message, metadata: metadata)
    }

    /// Reads a metadata block; limits are decided from the declared length and count before any entry is decoded.
    private func parseMetadata(_ payload: inout ByteBuffer, errorCode: WireError.Code) throws(WireError) -> Metadata {
        guard let (blockLength, count) = payload.readMultipleIntegers(endianness: .big, as: (UInt32, UInt16).self) else {
            throw WireError(errorCode, "The metadata block header is truncated.")
        }
        if blockLength > UInt32(self.limits.maxMetadataSize) {
            throw WireError(.metadataTooLarge, "Metadata of \(blockLength) bytes exceeds the limit of \(self.limits.maxMetadataSize) bytes.")
        }
        if Int(count) > self.limits.maxMetadataEntries {
            throw WireError(.tooManyMetadataEntries, "\(count) metadata entries exceed the limit of \(self.limits.maxMetadataEntries).")
        }
        guard var block = payload.readSlice(length: Int(blockLength)) else {
            throw WireError(errorCode, "The metadata block declares \(blockLength) bytes but the frame holds fewer.")
        }
        var metadata = Metadata()
        metadata.elements.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let keyLength = block.readInteger(as: UInt8.self), let keyView = block.readSlice(length: Int(keyLength))
            else {
                throw WireError(errorCode, "A metadata entry's key is truncated.")
            }
            let keyError: WireError?? = keyView.withUnsafeReadableBytes { Metadata.validateKey(bytes: $0) }
            if let keyError = keyError ?? nil { throw keyError }
            let key = String(buffer: keyView)
            if key.hasPrefix(Metadata.reservedPrefix) {
                throw WireError(.reservedMetadataKey, "Metadata key '\(key)' uses the prefix '\(Metadata.reservedPrefix)' reserved for the runtime.")
            }
            guard let valueLength = block.readInteger(endianness: .big, as: UInt16.self),
                let valueView = block.readSlice(length: Int(valueLength))
            else {
                throw WireError(errorCode, "The metadata value for '\(key)' is truncated.")
            }
            if key.utf8.last == UInt8(ascii: "n") && key.hasSuffix("-bin") {
                metadata.elements.append((key: key, value: .binary(Array(valueView.readableBytesView))))
            } else {
                let printable = valueView.withUnsafeReadableBytes { $0.allSatisfy { $0 >= 0x20 && $0 <= 0x7E } }
                guard printable else {
                    throw WireError(.invalidMetadataValue, "The metadata value for '\(key)' has a byte outside printable ASCII (CR, LF, NUL or non-ASCII).")
                }
                metadata.elements.append((key: key, value: .string(String(buffer: valueView))))
            }
        }
        guard block.readableBytes == 0 else {
            throw WireError(errorCode, "The metadata block has \(block.readableBytes) bytes after its \(count) entries.")
        }
        return metadata
    }
}
