import NIOCore
import Testing

@testable import Wire

@Suite("FrameDecoder: preface, frame header and connection-level errors", .timeLimit(.minutes(5)))
struct FrameDecoderTests {
    // MARK: Preface

    @Test("the preface is DRPC, the version, CR LF")
    func prefaceBytesAreExact() {
        #expect(prefaceBytes() == [0x44, 0x52, 0x50, 0x43, 0x00, 0x01, 0x0D, 0x0A])
        #expect(Preface.size == 8)
    }

    @Test("a preface that arrives a byte at a time is accepted, then SETTINGS is decoded")
    func prefaceByteByByte() throws {
        var decoder = FrameDecoder()
        for byte in prefaceBytes() {
            decoder.append(contentsOf: [byte])
            #expect(try decoder.nextFrame() == nil)
        }
        decoder.append(contentsOf: encoded(.settings(.default)))
        #expect(try decoder.nextFrame() == .frame(.settings(.default)))
        #expect(try decoder.nextFrame() == nil)
    }

    @Test("bad magic is refused on the first wrong byte, before eight bytes arrive", arguments: 0..<4)
    func badMagicDecidedEarly(position: Int) throws {
        var decoder = FrameDecoder()
        let good = prefaceBytes()
        for byte in good[..<position] {
            decoder.append(contentsOf: [byte])
            #expect(try decoder.nextFrame() == nil)
        }
        decoder.append(contentsOf: [good[position] ^ 0x20])
        let error = expectWireError(.badPreface) { try decoder.nextFrame() }
        #expect(error?.goAwayCode == .badPreface)
        #expect(decoder.bufferedBytes == position + 1)
    }

    @Test("an HTTP request on the wrong port fails on its first byte")
    func httpRequestIsRefused() {
        var decoder = FrameDecoder()
        decoder.append(contentsOf: Array("G".utf8))
        expectWireError(.badPreface) { try decoder.nextFrame() }
        expectWireError(.badPreface) { try decodeAll(Array("GET / HTTP/1.1\r\n\r\n".utf8), expectPreface: true) }
    }

    @Test("an unknown protocol version is refused with unsupportedVersion", arguments: [UInt16(0), 2, 0x0100, .max])
    func unknownVersion(version: UInt16) throws {
        var decoder = FrameDecoder()
        let bytes = prefaceBytes(version: version)
        decoder.append(contentsOf: bytes.prefix(7))
        #expect(try decoder.nextFrame() == nil)  // the version is decided together with CR LF
        decoder.append(contentsOf: bytes.suffix(1))
        let error = expectWireError(.unsupportedVersion) { try decoder.nextFrame() }
        #expect(error?.goAwayCode == .unsupportedVersion)
    }

    @Test("a preface without CR LF after the version is refused with badPreface", arguments: [[0x0D, 0x0D], [0x0A, 0x0D], [0x0A, 0x0A], [0x00, 0x00], [0x0D, 0x00]] as [[UInt8]])
    func badTerminator(terminator: [UInt8]) {
        expectWireError(.badPreface) { try decodeAll(Array(prefaceBytes().prefix(6)) + terminator, expectPreface: true) }
    }

    // MARK: SETTINGS first, once

    static let nonSettingsFrames: [[UInt8]] = [
        encoded(.ping(PingFrame(payload: 1, ack: false))),
        encoded(.callStart(CallStart(streamID: 1, method: "a/b"))),
        encoded(.message(.whole(streamID: 1, buffer([1])))),
        encoded(.halfClose(streamID: 1)),
        encoded(.callEnd(CallEnd(streamID: 1, status: .ok))),
        encoded(.cancel(streamID: 1, reason: .cancelled)),
        encoded(.credit(streamID: 1, bytes: 1)),
        encoded(.goAway(GoAway(lastStreamID: 0, code: .noError, reason: ""))),
        RawFrame.frame(type: 0x0A, streamID: 0, payload: [1, 2, 3]),  // an unknown type is not a way around it
    ]

    @Test("the first frame after the preface must be SETTINGS", arguments: nonSettingsFrames)
    func firstFrameMustBeSettings(frame: [UInt8]) {
        var decoder = FrameDecoder()
        // Decided from the header alone.
        decoder.append(contentsOf: prefaceBytes() + frame.prefix(FrameHeader.size))
        let error = expectWireError(.expectedSettings) { try decoder.nextFrame() }
        #expect(error?.goAwayCode == .protocolError)
    }

    @Test("a second SETTINGS frame is a connection error")
    func duplicateSettings() {
        let error = expectWireError(.duplicateSettings) {
            try decodeAll(connectionStart() + encoded(.settings(.default)), expectPreface: true)
        }
        #expect(error?.goAwayCode == .protocolError)
    }

    @Test("a decoder of bare frames accepts one SETTINGS frame and refuses a second")
    func bareDecoderSettings() throws {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: encoded(.ping(PingFrame(payload: 1, ack: false)), .settings(.default)))
        #expect(try decoder.drain() == [.frame(.ping(PingFrame(payload: 1, ack: false))), .frame(.settings(.default))])
        decoder.append(contentsOf: encoded(.settings(.default)))
        expectWireError(.duplicateSettings) { try decoder.nextFrame() }
    }

    // MARK: Header and frame size

    @Test("a header that is not complete yet needs more bytes, then decodes", arguments: 0..<FrameHeader.size)
    func truncatedHeader(available: Int) throws {
        let bytes = encoded(.credit(streamID: 1, bytes: 99))
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: bytes.prefix(available))
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedBytes == available)
        decoder.append(contentsOf: bytes.dropFirst(available))
        #expect(try decoder.nextFrame() == .frame(.credit(streamID: 1, bytes: 99)))
    }

    @Test("a payload that is not complete yet needs more bytes")
    func truncatedPayload() throws {
        let bytes = encoded(.goAway(GoAway(lastStreamID: 3, code: .noError, reason: "bye")))
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: bytes.dropLast())
        #expect(try decoder.nextFrame() == nil)
        #expect(try decoder.nextFrame() == nil)
        decoder.append(contentsOf: bytes.suffix(1))
        #expect(try decoder.nextFrame() == .frame(.goAway(GoAway(lastStreamID: 3, code: .noError, reason: "bye"))))
    }

    @Test("a frame of exactly the frame size limit is accepted", arguments: [1024, 16 * 1024, WireLimits.maximumFrameSize])
    func frameAtLimit(limit: Int) throws {
        let limits = WireLimits(maxFrameSize: limit, maxMessageSize: WireLimits.maximumFrameSize)
        let data = patternBuffer(count: limit)
        let frame = Frame.message(MessageFrame(streamID: 1, messageLength: nil, data: data))
        #expect(try decodeAll(encoded(frame), limits: limits) == [.frame(frame)])
    }

    static let oversizedLengths: [UInt32] = [16 * 1024 + 1, 1 << 20, (1 << 24) - 1, 1 << 24, UInt32.max]

    @Test(
        "a length over the limit is refused from the 10 header bytes alone",
        arguments: oversizedLengths, [FrameType.message, .messageContinuation, .callStart, .callEnd, .settings, .goAway, FrameType(rawValue: 0x42)]
    )
    func lengthOverLimit(length: UInt32, type: FrameType) throws {
        let streamID: UInt32 = type == .settings || type == .goAway ? 0 : 1
        var decoder = type == .settings ? FrameDecoder() : FrameDecoder(expectPreface: false)
        if type == .settings { decoder.append(contentsOf: prefaceBytes()) }
        decoder.append(contentsOf: RawFrame.header(length: length, type: type.rawValue, streamID: streamID))
        let error = expectWireError(.frameTooLarge) { try decoder.nextFrame() }
        #expect(error?.goAwayCode == .frameSizeError)
        #expect(decoder.bufferedBytes == FrameHeader.size)
    }

    @Test("the limit follows the configured maximum: 2^24 - 1 passes a 16 MiB limit, 2^24 + 1 does not")
    func configuredMaximum() throws {
        var decoder = FrameDecoder(limits: WireLimits(maxFrameSize: WireLimits.maximumFrameSize), expectPreface: false)
        decoder.append(contentsOf: RawFrame.header(length: (1 << 24) - 1, type: FrameType.messageContinuation.rawValue, streamID: 1))
        #expect(try decoder.nextFrame() == nil)  // accepted: waits for the payload
        var strict = FrameDecoder(limits: WireLimits(maxFrameSize: WireLimits.maximumFrameSize), expectPreface: false)
        strict.append(contentsOf: RawFrame.header(length: (1 << 24) + 1, type: FrameType.messageContinuation.rawValue, streamID: 1))
        expectWireError(.frameTooLarge) { try strict.nextFrame() }
    }

    struct WrongLength: Sendable, CustomTestStringConvertible {
        var type: FrameType
        var length: UInt32
        var streamID: UInt32
        var testDescription: String { "\(type) with \(length) bytes" }
    }

    static let wrongLengths: [WrongLength] = [
        WrongLength(type: .ping, length: 0, streamID: 0),
        WrongLength(type: .ping, length: 7, streamID: 0),
        WrongLength(type: .ping, length: 9, streamID: 0),
        WrongLength(type: .cancel, length: 0, streamID: 1),
        WrongLength(type: .cancel, length: 2, streamID: 1),
        WrongLength(type: .credit, length: 0, streamID: 1),
        WrongLength(type: .credit, length: 3, streamID: 1),
        WrongLength(type: .credit, length: 5, streamID: 1),
        WrongLength(type: .halfClose, length: 1, streamID: 1),
        WrongLength(type: .halfClose, length: 1024, streamID: 1),
        WrongLength(type: .goAway, length: 0, streamID: 0),
        WrongLength(type: .goAway, length: 9, streamID: 0),
        WrongLength(type: .message, length: 0, streamID: 1),
        WrongLength(type: .message, length: 3, streamID: 1),
    ]

    @Test("fixed-size frames with the wrong length are refused from the header", arguments: wrongLengths)
    func wrongFixedLength(_ wrong: WrongLength) {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: RawFrame.header(length: wrong.length, type: wrong.type.rawValue, streamID: wrong.streamID))
        let error = expectWireError(.badFrameLength) { try decoder.nextFrame() }
        #expect(error?.goAwayCode == .frameSizeError)
    }

    @Test("GOAWAY whose reason length disagrees with its payload is malformed", arguments: [UInt16(0), 2, 4, .max])
    func goAwayReasonLength(declared: UInt16) {
        let payload = bigEndian(UInt32(1)) + bigEndian(UInt32(0)) + bigEndian(declared) + Array("abc".utf8)
        let error = expectWireError(.malformedFrame) { try decodeAll(RawFrame.frame(.goAway, streamID: 0, payload: payload)) }
        #expect(error?.goAwayCode == .protocolError)
    }

    @Test("GOAWAY: invalid UTF-8 in the reason is replaced, and the reserved bit of the last stream id is ignored")
    func goAwayLenient() throws {
        let payload = bigEndian(UInt32(0xFFFF_FFFF)) + bigEndian(UInt32(6)) + bigEndian(UInt16(3)) + [0x61, 0xFF, 0x62]
        #expect(
            try decodeAll(RawFrame.frame(.goAway, streamID: 0, payload: payload))
                == [.frame(.goAway(GoAway(lastStreamID: 0x7FFF_FFFF, code: .enhanceYourCalm, reason: "a\u{FFFD}b")))]
        )
    }

    // MARK: Stream ids

    static let streamFrameTypes: [FrameType] = [.callStart, .message, .messageContinuation, .halfClose, .callEnd, .cancel, .credit]

    /// A well-formed payload for each type, so only the stream id is wrong.
    static func validPayload(for type: FrameType) -> [UInt8] {
        switch type {
        case .callStart: return RawFrame.callStartPayload()
        case .message: return bigEndian(UInt32(1)) + [7]
        case .messageContinuation: return [7]
        case .halfClose: return []
        case .callEnd: return RawFrame.callEndPayload()
        case .cancel: return [1]
        case .credit: return bigEndian(UInt32(5))
        case .ping: return bigEndian(UInt64(5))
        case .goAway: return bigEndian(UInt32(0)) + bigEndian(UInt32(0)) + bigEndian(UInt16(0))
        default: return []
        }
    }

    @Test("stream frames with stream id 0 are refused", arguments: streamFrameTypes)
    func streamIDRequired(type: FrameType) {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: RawFrame.header(length: UInt32(Self.validPayload(for: type).count), type: type.rawValue, streamID: 0))
        let error = expectWireError(.streamIDRequired) { try decoder.nextFrame() }  // decided from the header
        #expect(error?.goAwayCode == .protocolError)
        // The same frame on stream 1 is fine.
        #expect(throws: Never.self) { try decodeAll(RawFrame.frame(type, streamID: 1, payload: Self.validPayload(for: type))) }
    }

    @Test("connection frames with a non-zero stream id are refused", arguments: [FrameType.ping, .goAway], [UInt32(1), 2, 0x7FFF_FFFF])
    func streamIDForbidden(type: FrameType, streamID: UInt32) {
        let error = expectWireError(.streamIDForbidden) {
            try decodeAll(RawFrame.frame(type, streamID: streamID, payload: Self.validPayload(for: type)))
        }
        #expect(error?.goAwayCode == .protocolError)
    }

    @Test("SETTINGS with a non-zero stream id is refused")
    func settingsStreamIDForbidden() {
        expectWireError(.streamIDForbidden) { try decodeAll(prefaceBytes() + RawFrame.settings([], streamID: 1), expectPreface: true) }
    }

    @Test(
        "the reserved top bit of the stream id is refused on every frame type",
        arguments: streamFrameTypes + [.ping, .goAway, FrameType(rawValue: 0x0C)]
    )
    func reservedBit(type: FrameType) {
        for streamID: UInt32 in [0x8000_0000, 0x8000_0001, 0xFFFF_FFFF] {
            var decoder = FrameDecoder(expectPreface: false)
            decoder.append(contentsOf: RawFrame.header(length: UInt32(Self.validPayload(for: type).count), type: type.rawValue, streamID: streamID))
            let error = expectWireError(.reservedBitSet) { try decoder.nextFrame() }
            #expect(error?.goAwayCode == .protocolError)
        }
    }

    // MARK: Unknown types and undefined flags

    @Test("unknown frame types are skipped and counted; decoding continues", arguments: [UInt8(0x0A), 0x0B, 0x7F, 0xFF])
    func unknownFrameType(type: UInt8) throws {
        let ping = Frame.ping(PingFrame(payload: 42, ack: false))
        let bytes = RawFrame.frame(type: type, flags: 0xFF, streamID: 0x1234, payload: [1, 2, 3, 4, 5])
            + RawFrame.frame(type: type, streamID: 0, payload: [])
            + encoded(ping)
            + RawFrame.frame(type: type, streamID: 7, payload: Array(repeating: 9, count: 1000))
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: bytes)
        #expect(try decoder.nextFrame() == .frame(ping))
        #expect(decoder.ignoredFrameCount == 2)
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.ignoredFrameCount == 3)
        #expect(decoder.bufferedBytes == 0)
        #expect(!FrameType(rawValue: type).isKnown)
    }

    @Test("an unknown frame's payload is waited for before it is skipped")
    func unknownFrameSplit() throws {
        let bytes = RawFrame.frame(type: 0x20, streamID: 1, payload: [1, 2, 3]) + encoded(.halfClose(streamID: 1))
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: bytes.prefix(12))
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.ignoredFrameCount == 0)
        decoder.append(contentsOf: bytes.dropFirst(12))
        #expect(try decoder.nextFrame() == .frame(.halfClose(streamID: 1)))
        #expect(decoder.ignoredFrameCount == 1)
    }

    struct UndefinedFlags: Sendable, CustomTestStringConvertible {
        var bytes: [UInt8]
        var expected: DecodedFrame
        var testDescription: String { "\(expected)" }
    }

    static let undefinedFlags: [UndefinedFlags] = [
        UndefinedFlags(
            bytes: RawFrame.frame(.ping, flags: 0xFE, streamID: 0, payload: bigEndian(UInt64(1))),
            expected: .frame(.ping(PingFrame(payload: 1, ack: false)))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.ping, flags: 0x81, streamID: 0, payload: bigEndian(UInt64(1))),
            expected: .frame(.ping(PingFrame(payload: 1, ack: true)))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.halfClose, flags: 0x01, streamID: 1, payload: []),
            expected: .frame(.halfClose(streamID: 1))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.cancel, flags: 0x80, streamID: 1, payload: [1]),
            expected: .frame(.cancel(streamID: 1, reason: .deadlineExceeded))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.credit, flags: 0x02, streamID: 1, payload: bigEndian(UInt32(8))),
            expected: .frame(.credit(streamID: 1, bytes: 8))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.callStart, flags: 0xFE, streamID: 1, payload: RawFrame.callStartPayload(method: Array("a/b".utf8))),
            expected: .frame(.callStart(CallStart(streamID: 1, method: "a/b")))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.callEnd, flags: 0x01, streamID: 1, payload: RawFrame.callEndPayload(status: 5)),
            expected: .frame(.callEnd(CallEnd(streamID: 1, status: .notFound)))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.message, flags: 0x08 | FrameFlags.endStream, streamID: 1, payload: bigEndian(UInt32(1)) + [9]),
            expected: .frame(.message(.whole(streamID: 1, buffer([9]), endStream: true)))
        ),
        UndefinedFlags(
            // COMPRESSED is defined only on the first frame of a message.
            bytes: RawFrame.frame(.messageContinuation, flags: FrameFlags.compressed, streamID: 1, payload: [9]),
            expected: .frame(.message(MessageFrame(streamID: 1, messageLength: nil, data: buffer([9]))))
        ),
        UndefinedFlags(
            bytes: RawFrame.frame(.goAway, flags: 0xFF, streamID: 0, payload: Array(repeating: 0, count: 10)),
            expected: .frame(.goAway(GoAway(lastStreamID: 0, code: .noError, reason: "")))
        ),
    ]

    @Test("undefined flag bits are ignored and counted", arguments: undefinedFlags)
    func undefinedFlagsCounted(_ testCase: UndefinedFlags) throws {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: testCase.bytes)
        #expect(try decoder.nextFrame() == testCase.expected)
        #expect(decoder.ignoredFrameCount == 1)
    }

    @Test("undefined flags on SETTINGS are ignored and counted")
    func settingsUndefinedFlags() throws {
        var decoder = FrameDecoder()
        decoder.append(contentsOf: prefaceBytes() + RawFrame.frame(.settings, flags: 0x01, streamID: 0, payload: []))
        #expect(try decoder.nextFrame() == .frame(.settings(.default)))
        #expect(decoder.ignoredFrameCount == 1)
    }

    @Test("defined flags are not counted")
    func definedFlagsNotCounted() throws {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(
            contentsOf: encoded(
                .ping(PingFrame(payload: 1, ack: true)),
                .callStart(CallStart(streamID: 1, method: "a/b", budget: WireBudget(remainingMicroseconds: 1, originalMicroseconds: 1))),
                .message(MessageFrame(streamID: 1, messageLength: 4, data: buffer([1]), more: true, compressed: true)),
                .message(MessageFrame(streamID: 1, messageLength: nil, data: buffer([2]), more: true)),
                .message(MessageFrame(streamID: 1, messageLength: nil, data: buffer([3, 4]), endStream: true))
            )
        )
        #expect(try decoder.drain().count == 5)
        #expect(decoder.ignoredFrameCount == 0)
    }

    // MARK: Sticky failure

    @Test("after a connection error every later call throws the same error, whatever arrives")
    func stickyFailure() throws {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: encoded(.ping(PingFrame(payload: 1, ack: false))))
        decoder.append(contentsOf: RawFrame.header(length: UInt32.max, type: FrameType.message.rawValue, streamID: 1))
        decoder.append(contentsOf: encoded(.halfClose(streamID: 1)))
        #expect(try decoder.nextFrame() == .frame(.ping(PingFrame(payload: 1, ack: false))))
        let first = try #require(expectWireError(.frameTooLarge) { try decoder.nextFrame() })
        for _ in 0..<3 {
            decoder.append(contentsOf: encoded(.ping(PingFrame(payload: 2, ack: true))))
            let again = expectWireError(.frameTooLarge) { try decoder.nextFrame() }
            #expect(again == first)
        }
    }

    @Test("a preface failure is sticky too")
    func stickyPrefaceFailure() throws {
        var decoder = FrameDecoder()
        decoder.append(contentsOf: Array("XXXX".utf8))
        let first = try #require(expectWireError(.badPreface) { try decoder.nextFrame() })
        decoder.append(contentsOf: connectionStart())
        #expect(expectWireError(.badPreface) { try decoder.nextFrame() } == first)
    }

    @Test("a stream error is not sticky: the next frame decodes")
    func streamErrorNotSticky() throws {
        let bytes = RawFrame.frame(.callEnd, streamID: 1, payload: RawFrame.callEndPayload(message: [0xFF]))
            + encoded(.halfClose(streamID: 3))
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: bytes)
        expectStreamError(try decoder.nextFrame(), streamID: 1, type: .callEnd, code: .invalidUTF8)
        #expect(try decoder.nextFrame() == .frame(.halfClose(streamID: 3)))
    }
}
