import NIOCore
import Testing

@testable import Wire

@Suite("FrameDecoder: payload rules of CALL_START, MESSAGE and CALL_END", .timeLimit(.minutes(5)))
struct FrameDecoderPayloadTests {
    // MARK: CALL_START

    @Test("a CALL_START with the deadline flag but truncated budget fields is a stream error", arguments: [0, 1, 8, 15])
    func truncatedBudget(budgetBytes: Int) throws {
        let payload = Array(repeating: UInt8(0), count: budgetBytes)
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: RawFrame.frame(.callStart, flags: FrameFlags.hasDeadline, streamID: 5, payload: payload))
        decoder.append(contentsOf: encoded(.halfClose(streamID: 7)))
        let error = expectStreamError(try decoder.nextFrame(), streamID: 5, type: .callStart, code: .malformedCallStart)
        #expect(error?.statusCode == .internal)
        #expect(try decoder.nextFrame() == .frame(.halfClose(streamID: 7)))  // the connection continues
    }

    @Test("a CALL_START with a complete budget but no fixed fields after it is a stream error")
    func budgetWithoutFixedFields() throws {
        let payload = bigEndian(Int64(1)) + bigEndian(Int64(1)) + [0, 0, 0]  // one byte short of hops+encoding+length
        let decoded = try decodeAll(RawFrame.frame(.callStart, flags: FrameFlags.hasDeadline, streamID: 1, payload: payload))
        expectStreamError(decoded.first, streamID: 1, type: .callStart, code: .malformedCallStart)
    }

    @Test("a CALL_START without the deadline flag has no budget, and reads the same bytes as fixed fields")
    func budgetFlagDecides() throws {
        let withBudget = RawFrame.callStartPayload(budget: (-5, 7), method: Array("a/b".utf8))
        #expect(
            try decodeAll(RawFrame.frame(.callStart, flags: FrameFlags.hasDeadline, streamID: 1, payload: withBudget))
                == [.frame(.callStart(CallStart(streamID: 1, method: "a/b", budget: WireBudget(remainingMicroseconds: -5, originalMicroseconds: 7))))]
        )
        // The same payload without the flag: the first budget byte is read as the hop count, and the rest no
        // longer parses.
        let decoded = try decodeAll(RawFrame.frame(.callStart, streamID: 1, payload: withBudget))
        #expect(decoded.count == 1)
        guard case .streamError(1, .callStart, _) = decoded.first else {
            Issue.record("expected a stream error, got \(decoded)")
            return
        }
    }

    static let invalidMethods: [[UInt8]] = [
        [],  // empty
        Array(repeating: UInt8(ascii: "m"), count: WireLimits.maxMethodLength + 1),
        Array("echo Echo/Get".utf8),  // space
        Array("echo.Echo/Gét".utf8),  // non-ASCII
        Array("a/b\u{7}".utf8),  // control character
        [UInt8(ascii: "a"), 0x7F],  // DEL
        [UInt8(ascii: "a"), 0x00],  // NUL
        Array("a/b\r\n".utf8),
    ]

    @Test("invalid method names are a stream error", arguments: invalidMethods)
    func invalidMethodName(method: [UInt8]) throws {
        let frame = RawFrame.frame(.callStart, streamID: 9, payload: RawFrame.callStartPayload(method: method))
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: frame + encoded(.credit(streamID: 1, bytes: 1)))
        let error = expectStreamError(try decoder.nextFrame(), streamID: 9, type: .callStart, code: .invalidMethodName)
        #expect(error?.statusCode == .invalidArgument)
        #expect(try decoder.nextFrame() == .frame(.credit(streamID: 1, bytes: 1)))
    }

    @Test("a method length that runs past the payload is a stream error")
    func truncatedMethod() throws {
        let payload = RawFrame.callStartPayload(method: Array("a/b".utf8), methodLength: 100, metadata: [])
        expectStreamError(try decodeAll(RawFrame.frame(.callStart, streamID: 1, payload: payload)).first, streamID: 1, type: .callStart, code: .invalidMethodName)
    }

    @Test("a CALL_START with bytes after its metadata block is a stream error")
    func callStartTrailingBytes() throws {
        let payload = RawFrame.callStartPayload() + [0]
        expectStreamError(try decodeAll(RawFrame.frame(.callStart, streamID: 1, payload: payload)).first, streamID: 1, type: .callStart, code: .malformedCallStart)
    }

    @Test("a CALL_START without its metadata block, or with a truncated one, is a stream error", arguments: [0, 3, 5])
    func callStartTruncatedMetadata(metadataBytes: Int) throws {
        let full = RawFrame.metadataBlock([(Array("k".utf8), Array("v".utf8))])
        let payload = RawFrame.callStartPayload(metadata: Array(full.prefix(metadataBytes)))
        expectStreamError(try decodeAll(RawFrame.frame(.callStart, streamID: 1, payload: payload)).first, streamID: 1, type: .callStart, code: .malformedCallStart)
    }

    @Test("a metadata block that declares more bytes than the frame holds is a stream error (not a wait)")
    func metadataBlockPastFrame() throws {
        let block = RawFrame.metadataBlock([(Array("k".utf8), Array("v".utf8))], declaredLength: 100)
        let payload = RawFrame.callStartPayload(metadata: block)
        expectStreamError(try decodeAll(RawFrame.frame(.callStart, streamID: 1, payload: payload)).first, streamID: 1, type: .callStart, code: .malformedCallStart)
    }

    @Test("metadata entries that overrun or underrun the block are a stream error")
    func metadataEntriesInconsistent() throws {
        let entry: (key: [UInt8], value: [UInt8]) = (Array("k".utf8), Array("v".utf8))
        // Declares two entries but holds one.
        let short = RawFrame.metadataBlock([entry], declaredCount: 2)
        // Declares one entry but holds two.
        let long = RawFrame.metadataBlock([entry, entry], declaredCount: 1)
        // A value length that runs past the block.
        let overrun = bigEndian(UInt32(4)) + bigEndian(UInt16(1)) + [1, UInt8(ascii: "k")] + bigEndian(UInt16(9))
        for block in [short, long, overrun] {
            let payload = RawFrame.callStartPayload(metadata: block)
            expectStreamError(try decodeAll(RawFrame.frame(.callStart, streamID: 1, payload: payload)).first, streamID: 1, type: .callStart, code: .malformedCallStart)
        }
    }

    // MARK: MESSAGE

    @Test("MORE together with END_STREAM is a connection error", arguments: [FrameType.message, .messageContinuation])
    func moreAndEndStream(type: FrameType) {
        let payload = type == .message ? bigEndian(UInt32(10)) + [1, 2] : [1, 2]
        let frame = RawFrame.frame(type, flags: FrameFlags.more | FrameFlags.endStream, streamID: 1, payload: payload)
        let error = expectWireError(.malformedFrame) { try decodeAll(frame) }
        #expect(error?.goAwayCode == .protocolError)
    }

    struct Inconsistent: Sendable, CustomTestStringConvertible {
        var declared: UInt32
        var chunk: Int
        var more: Bool
        var testDescription: String { "\(chunk) of \(declared) bytes, MORE \(more)" }
    }

    static let inconsistent: [Inconsistent] = [
        Inconsistent(declared: 10, chunk: 10, more: true),  // all of it, yet more follows
        Inconsistent(declared: 10, chunk: 5, more: false),  // part of it, yet nothing follows
        Inconsistent(declared: 5, chunk: 10, more: false),  // more than declared
        Inconsistent(declared: 5, chunk: 10, more: true),
        Inconsistent(declared: 0, chunk: 0, more: true),
        Inconsistent(declared: 0, chunk: 1, more: false),
        Inconsistent(declared: 1, chunk: 0, more: false),
    ]

    @Test("a MESSAGE whose chunk, declared length and MORE flag disagree is a connection error", arguments: inconsistent)
    func messageInconsistent(_ testCase: Inconsistent) {
        let payload = bigEndian(testCase.declared) + Array(repeating: UInt8(7), count: testCase.chunk)
        let frame = RawFrame.frame(.message, flags: testCase.more ? FrameFlags.more : 0, streamID: 1, payload: payload)
        expectWireError(.malformedFrame) { try decodeAll(frame) }
    }

    @Test("the declared message length may equal the message limit; one more is a stream error and decoding continues")
    func messageSizeLimit() throws {
        let limits = WireLimits(maxFrameSize: 1024, maxMessageSize: 2048)
        let atLimit = RawFrame.frame(.message, flags: FrameFlags.more, streamID: 1, payload: bigEndian(UInt32(2048)) + [1, 2, 3])
        let overLimit = RawFrame.frame(.message, flags: FrameFlags.more, streamID: 3, payload: bigEndian(UInt32(2049)) + [1, 2, 3])
        var decoder = FrameDecoder(limits: limits, expectPreface: false)
        decoder.append(contentsOf: atLimit + overLimit + encoded(.cancel(streamID: 3, reason: .resourceLimit)))
        #expect(try decoder.nextFrame() == .frame(.message(MessageFrame(streamID: 1, messageLength: 2048, data: buffer([1, 2, 3]), more: true))))
        let error = expectStreamError(try decoder.nextFrame(), streamID: 3, type: .message, code: .messageTooLarge)
        #expect(error?.statusCode == .resourceExhausted)
        #expect(try decoder.nextFrame() == .frame(.cancel(streamID: 3, reason: .resourceLimit)))
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("a message of exactly the default 4 MiB limit decodes and reassembles; 4 MiB + 1 is refused from its first frame")
    func defaultMessageLimit() throws {
        let limit = WireLimits.default.maxMessageSize
        #expect(limit == 4 * 1024 * 1024)
        let message = patternBuffer(count: limit)
        var bytes = ByteBuffer()
        FrameEncoder.writeMessage(streamID: 1, message: message, endStream: true, maxFrameSize: WireLimits.default.maxFrameSize, into: &bytes)
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(bytes)
        var assembler = MessageAssembler()
        var result: MessageAssembler.Message?
        while let decoded = try decoder.nextFrame() {
            guard case .frame(.message(let frame)) = decoded else {
                Issue.record("unexpected \(decoded)")
                return
            }
            if let message = try assembler.receive(frame) { result = message }
        }
        #expect(result?.bytes == message)

        var tooLarge = ByteBuffer()
        FrameEncoder.writeMessage(streamID: 3, message: patternBuffer(count: limit + 1), maxFrameSize: WireLimits.default.maxFrameSize, into: &tooLarge)
        var second = FrameDecoder(expectPreface: false)
        // Only the first frame is needed to decide.
        second.append(tooLarge.getSlice(at: 0, length: WireLimits.default.maxFrameSize + FrameHeader.size)!)
        expectStreamError(try second.nextFrame(), streamID: 3, type: .message, code: .messageTooLarge)
        #expect(try second.nextFrame() == nil)
    }

    @Test("a COMPRESSED flag is reported on the first frame only")
    func compressedFlag() throws {
        let frames = try decodeAll(
            RawFrame.frame(.message, flags: FrameFlags.compressed | FrameFlags.more, streamID: 1, payload: bigEndian(UInt32(2)) + [1])
                + RawFrame.frame(.messageContinuation, flags: FrameFlags.compressed, streamID: 1, payload: [2])
        )
        #expect(
            frames == [
                .frame(.message(MessageFrame(streamID: 1, messageLength: 2, data: buffer([1]), more: true, compressed: true))),
                .frame(.message(MessageFrame(streamID: 1, messageLength: nil, data: buffer([2]), compressed: false))),
            ]
        )
    }

    // MARK: CALL_END

    static let badUTF8: [[UInt8]] = [
        [0xFF],
        [0xC3, 0x28],  // a lead byte followed by a non-continuation
        [0xC0, 0x80],  // overlong NUL
        [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
        [0xE2, 0x82],  // cut inside a character
        Array("ok then ".utf8) + [0xF8, 0x88, 0x80, 0x80, 0x80],  // five-byte form
    ]

    @Test("bad UTF-8 in the status message is a stream error; the connection continues", arguments: badUTF8)
    func badUTF8InStatusMessage(message: [UInt8]) throws {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: RawFrame.frame(.callEnd, streamID: 3, payload: RawFrame.callEndPayload(status: 13, message: message)))
        decoder.append(contentsOf: encoded(.callEnd(CallEnd(streamID: 5, status: .ok, message: "fine"))))
        let error = expectStreamError(try decoder.nextFrame(), streamID: 3, type: .callEnd, code: .invalidUTF8)
        #expect(error?.statusCode == .internal)
        #expect(try decoder.nextFrame() == .frame(.callEnd(CallEnd(streamID: 5, status: .ok, message: "fine"))))
    }

    @Test("a truncated CALL_END is a stream error", arguments: [[], [0], [0, 0], [0, 0, 5, 1, 2]] as [[UInt8]])
    func truncatedCallEnd(payload: [UInt8]) throws {
        let error = expectStreamError(try decodeAll(RawFrame.frame(.callEnd, streamID: 1, payload: payload)).first, streamID: 1, type: .callEnd, code: .malformedCallEnd)
        #expect(error?.statusCode == .internal)
    }

    @Test("a CALL_END without metadata, or with bytes after it, is a stream error")
    func callEndMetadataFraming() throws {
        for payload in [RawFrame.callEndPayload(metadata: []), RawFrame.callEndPayload() + [0]] {
            expectStreamError(try decodeAll(RawFrame.frame(.callEnd, streamID: 1, payload: payload)).first, streamID: 1, type: .callEnd, code: .malformedCallEnd)
        }
    }
}
