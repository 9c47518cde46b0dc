import NIOCore
import Testing

@testable import Wire

/// Encodes `frame`, checks its header, decodes it with a fresh decoder and expects exactly the same frame back
/// with nothing left over or ignored.
func expectRoundTrip(
    _ frame: Frame,
    limits: WireLimits = .default,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var bytes = ByteBuffer()
    FrameEncoder.write(frame, into: &bytes)
    let length = try #require(bytes.getInteger(at: 0, endianness: .big, as: UInt32.self))
    #expect(Int(length) == bytes.readableBytes - FrameHeader.size, "header length", sourceLocation: sourceLocation)
    #expect(bytes.getInteger(at: 4, as: UInt8.self) == frame.type.rawValue, "type byte", sourceLocation: sourceLocation)
    #expect(bytes.getInteger(at: 6, endianness: .big, as: UInt32.self) == frame.streamID, sourceLocation: sourceLocation)

    var decoder = FrameDecoder(limits: limits, expectPreface: false)
    decoder.append(bytes)
    let decoded = try decoder.nextFrame()
    #expect(decoded == .frame(frame), sourceLocation: sourceLocation)
    #expect(try decoder.nextFrame() == nil, sourceLocation: sourceLocation)
    #expect(decoder.bufferedBytes == 0, sourceLocation: sourceLocation)
    #expect(decoder.ignoredFrameCount == 0, sourceLocation: sourceLocation)
}

@Suite("FrameEncoder: every frame kind round-trips through FrameDecoder", .timeLimit(.minutes(5)))
struct FrameEncoderTests {
    // MARK: SETTINGS

    static let settingsCases: [Settings] = [
        .default,
        Settings(
            maxFrameSize: UInt32(WireLimits.minimumFrameSize),
            maxConcurrentStreams: 0,
            initialStreamCredit: 0,
            maxMessageSize: 0,
            maxMetadataSize: 0,
            maxMetadataEntries: 0,
            acceptedEncodings: 0
        ),
        Settings(
            maxFrameSize: UInt32(WireLimits.maximumFrameSize),
            maxConcurrentStreams: .max,
            initialStreamCredit: Settings.maxCredit,
            maxMessageSize: .max,
            maxMetadataSize: .max,
            maxMetadataEntries: UInt32(UInt16.max),
            acceptedEncodings: .max
        ),
        Settings(limits: WireLimits(maxFrameSize: 64 * 1024, maxMessageSize: 1 << 20), acceptedEncodings: 0x2),
    ]

    @Test("settings", arguments: settingsCases)
    func settings(_ settings: Settings) throws {
        try expectRoundTrip(.settings(settings))
        // Also as the first frame of a real connection.
        let frames = try decodeAll(prefaceBytes() + encoded(.settings(settings)), expectPreface: true)
        #expect(frames == [.frame(.settings(settings))])
    }

    // MARK: CALL_START

    static let budgets: [WireBudget?] = [
        nil,
        WireBudget(remainingMicroseconds: 0, originalMicroseconds: 0),
        WireBudget(remainingMicroseconds: -1, originalMicroseconds: 250_000),
        WireBudget(remainingMicroseconds: Int64.min, originalMicroseconds: Int64.min),
        WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: 1_000_000),
        WireBudget(remainingMicroseconds: Int64.max, originalMicroseconds: Int64.max),
    ]

    @Test("call start: every budget and hop boundary", arguments: budgets, [UInt8(0), 1, 255])
    func callStartBudgets(budget: WireBudget?, hops: UInt8) throws {
        try expectRoundTrip(.callStart(CallStart(streamID: 1, method: "echo.Echo/Get", budget: budget, hopCount: hops)))
    }

    @Test(
        "call start: every encoding (known and unknown)",
        arguments: [MessageEncoding.identity, .gzip, .deflate, MessageEncoding(rawValue: 7), MessageEncoding(rawValue: 255)]
    )
    func callStartEncodings(encoding: MessageEncoding) throws {
        try expectRoundTrip(.callStart(CallStart(streamID: 7, method: "a/b", encoding: encoding)))
    }

    @Test("call start: method names from 1 to 1024 printable bytes")
    func callStartMethods() throws {
        let everyPrintable = String(decoding: (0x21...0x7E).map { UInt8($0) }, as: UTF8.self)
        for method in ["a", "echo.Echo/Get", everyPrintable, String(repeating: "m", count: WireLimits.maxMethodLength)] {
            try expectRoundTrip(.callStart(CallStart(streamID: 0x7FFF_FFFF, method: method)))
        }
    }

    @Test("call start: metadata empty, with binary values, at the entry limit and at the size limit")
    func callStartMetadata() throws {
        var binary = Metadata()
        binary.add("acme", forKey: "tenant")
        binary.add((0...255).map { UInt8($0) }, forKey: "trace-bin")
        binary.add([], forKey: "empty-bin")
        binary.add("", forKey: "empty")
        binary.add("second", forKey: "tenant")  // duplicates survive, in order

        var maxEntries = Metadata()
        for index in 0..<WireLimits.default.maxMetadataEntries {
            if index.isMultiple(of: 2) {
                maxEntries.add("value \(index) ~!", forKey: "key-\(index)")
            } else {
                maxEntries.add([UInt8(index), 0, 0xFF, 0x0D, 0x0A], forKey: "key-\(index)-bin")
            }
        }
        #expect(maxEntries.count == 64)

        // One entry whose block is exactly 8192 bytes: 1 (key length) + 1 (key) + 2 (value length) + 8188.
        var maxSize = Metadata()
        maxSize.add(String(repeating: "v", count: WireLimits.default.maxMetadataSize - 4), forKey: "k")

        let longKey = String(repeating: "k", count: 255)
        let metadataCases: [Metadata] = [Metadata(), binary, maxEntries, maxSize, [longKey: "x"]]
        for metadata in metadataCases {
            #expect(metadata.validate() == nil)
            try expectRoundTrip(
                .callStart(
                    CallStart(
                        streamID: 3,
                        method: "svc.S/M",
                        budget: WireBudget(remainingMicroseconds: 1, originalMicroseconds: 2),
                        metadata: metadata
                    )
                )
            )
        }
    }

    @Test("call start: exact bytes with and without a budget")
    func callStartBytes() {
        #expect(
            encoded(.callStart(CallStart(streamID: 1, method: "a/b")))
                == [0, 0, 0, 13, 0x01, 0x00, 0, 0, 0, 1]  // header: length 13, CALL_START, no flags, stream 1
                + [0x00, 0x00, 0x00, 0x03] + Array("a/b".utf8)  // hops, encoding, method length, method
                + [0, 0, 0, 0, 0, 0]  // metadata block: length 0, count 0
        )
        let withBudget = encoded(
            .callStart(
                CallStart(
                    streamID: 5,
                    method: "a/b",
                    budget: WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: -2),
                    hopCount: 2,
                    encoding: .gzip,
                    metadata: ["k": "v"]
                )
            )
        )
        #expect(
            withBudget
                == [0, 0, 0, 34, 0x01, 0x01, 0, 0, 0, 5]  // HAS_DEADLINE flag
                + [0, 0, 0, 0, 0, 0x03, 0xD0, 0x90] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]
                + [0x02, 0x01, 0x00, 0x03] + Array("a/b".utf8)
                + [0, 0, 0, 5, 0, 1, 1, UInt8(ascii: "k"), 0, 1, UInt8(ascii: "v")]
        )
    }

    @Test("call start and call end without metadata (written in one go): exact bytes")
    func oneWriteFastPathBytes() {
        let start = encoded(
            .callStart(
                CallStart(
                    streamID: 5,
                    method: "a/b",
                    budget: WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: -2),
                    hopCount: 2,
                    encoding: .gzip
                )
            )
        )
        #expect(
            start
                == [0, 0, 0, 29, 0x01, 0x01, 0, 0, 0, 5]  // length 16 + 4 + 3 + 6, HAS_DEADLINE, stream 5
                + [0, 0, 0, 0, 0, 0x03, 0xD0, 0x90] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]
                + [0x02, 0x01, 0x00, 0x03] + Array("a/b".utf8)
                + [0, 0, 0, 0, 0, 0]
        )
        let end = encoded(.callEnd(CallEnd(streamID: 7, status: .notFound, message: "no")))
        #expect(
            end
                == [0, 0, 0, 11, FrameType.callEnd.rawValue, 0, 0, 0, 0, 7]  // length 1 + 2 + 2 + 6
                + [StatusCode.notFound.rawValue, 0, 2] + Array("no".utf8)
                + [0, 0, 0, 0, 0, 0]
        )
        let message = encoded(.message(.whole(streamID: 3, ByteBuffer(bytes: [7, 8]), endStream: true, compressed: false)))
        #expect(message == [0, 0, 0, 6, FrameType.message.rawValue, FrameFlags.endStream, 0, 0, 0, 3, 0, 0, 0, 2, 7, 8])
    }

    // MARK: MESSAGE / MESSAGE_CONTINUATION

    struct MessageFlags: Sendable, CustomTestStringConvertible {
        var more: Bool
        var endStream: Bool
        var compressed: Bool
        var testDescription: String { "more=\(more) endStream=\(endStream) compressed=\(compressed)" }
    }

    /// Every flag combination a first frame may carry: all but MORE together with END_STREAM.
    static let legalFirstFrameFlags: [MessageFlags] = [false, true].flatMap { more in
        [false, true].flatMap { end in
            [false, true].compactMap { compressed in
                more && end ? nil : MessageFlags(more: more, endStream: end, compressed: compressed)
            }
        }
    }

    @Test("message first frame: every legal flag combination", arguments: legalFirstFrameFlags)
    func messageFirstFrame(flags: MessageFlags) throws {
        let data = patternBuffer(count: 100)
        // With MORE the frame carries part of the declared length; without it, all of it.
        let declared: UInt32 = flags.more ? 1000 : 100
        let frame = MessageFrame(
            streamID: 1,
            messageLength: declared,
            data: data,
            more: flags.more,
            endStream: flags.endStream,
            compressed: flags.compressed
        )
        try expectRoundTrip(.message(frame))

        var expectedFlags: UInt8 = 0
        if flags.endStream { expectedFlags |= FrameFlags.endStream }
        if flags.more { expectedFlags |= FrameFlags.more }
        if flags.compressed { expectedFlags |= FrameFlags.compressed }
        #expect(encoded(.message(frame))[5] == expectedFlags)
    }

    @Test("message continuation: every legal flag combination", arguments: [(false, false), (true, false), (false, true)])
    func messageContinuation(more: Bool, endStream: Bool) throws {
        for count in [0, 1, 1000, WireLimits.default.maxFrameSize] {
            let frame = MessageFrame(
                streamID: 9,
                messageLength: nil,
                data: patternBuffer(count: count, seed: 3),
                more: more,
                endStream: endStream
            )
            try expectRoundTrip(.message(frame))
            let bytes = encoded(.message(frame))
            #expect(bytes[4] == FrameType.messageContinuation.rawValue)
            #expect(bytes.count == FrameHeader.size + count)
        }
    }

    @Test("message: empty, one byte, and exactly one maximum-size frame")
    func messageBoundaries() throws {
        let maxInOneFrame = WireLimits.default.maxFrameSize - 4
        for count in [0, 1, maxInOneFrame] {
            try expectRoundTrip(.message(.whole(streamID: 0x7FFF_FFFF, patternBuffer(count: count))))
            try expectRoundTrip(.message(.whole(streamID: 1, patternBuffer(count: count), endStream: true, compressed: true)))
        }
        #expect(encoded(.message(.whole(streamID: 1, ByteBuffer()))) == [0, 0, 0, 4, 0x02, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    }

    @Test("writeMessage splits into MESSAGE + MESSAGE_CONTINUATION frames that each fit and reassemble exactly")
    func writeMessageSplits() throws {
        let maxFrameSize = 1024
        let limits = WireLimits(maxFrameSize: maxFrameSize)
        // Sizes around the frame boundaries: the first frame holds maxFrameSize - 4 bytes.
        for size in [0, 1, 1019, 1020, 1021, 2043, 2044, 2045, 10_000] {
            for (endStream, compressed) in [(false, false), (true, false), (false, true), (true, true)] {
                let message = patternBuffer(count: size, seed: UInt8(size % 251))
                var bytes = ByteBuffer()
                FrameEncoder.writeMessage(
                    streamID: 11,
                    message: message,
                    compressed: compressed,
                    endStream: endStream,
                    maxFrameSize: maxFrameSize,
                    into: &bytes
                )
                let frames = try decodeAll(Array(bytes.readableBytesView), limits: limits)
                let expectedFrameCount = size <= 1020 ? 1 : 1 + (size - 1020 + 1023) / 1024
                #expect(frames.count == expectedFrameCount, "size \(size)")

                var assembler = MessageAssembler()
                var result: MessageAssembler.Message?
                for (index, decoded) in frames.enumerated() {
                    guard case .frame(.message(let frame)) = decoded else {
                        Issue.record("not a message frame: \(decoded)")
                        return
                    }
                    let isFirst = index == 0
                    let isLast = index == frames.count - 1
                    #expect(frame.messageLength == (isFirst ? UInt32(size) : nil))
                    #expect(frame.more == !isLast)
                    #expect(frame.endStream == (endStream && isLast))
                    #expect(frame.compressed == (compressed && isFirst))
                    #expect(frame.data.readableBytes <= (isFirst ? maxFrameSize - 4 : maxFrameSize))
                    if !isLast { #expect(frame.data.readableBytes == (isFirst ? maxFrameSize - 4 : maxFrameSize)) }
                    #expect(result == nil)
                    result = try assembler.receive(frame)
                }
                #expect(result == MessageAssembler.Message(bytes: message, compressed: compressed))
                #expect(!assembler.isAssembling)
            }
        }
    }

    // MARK: HALF_CLOSE, CALL_END, CANCEL, CREDIT, PING, GOAWAY

    @Test("half close", arguments: [UInt32(1), 2, 0x7FFF_FFFF])
    func halfClose(streamID: UInt32) throws {
        try expectRoundTrip(.halfClose(streamID: streamID))
        #expect(encoded(.halfClose(streamID: 1)) == [0, 0, 0, 0, 0x04, 0, 0, 0, 0, 1])
    }

    static let statusCodes = StatusCode.allDefined + [StatusCode(rawValue: 17), StatusCode(rawValue: 200), StatusCode(rawValue: 255)]

    @Test("call end: every status code, including unknown ones", arguments: statusCodes)
    func callEndStatus(status: StatusCode) throws {
        try expectRoundTrip(.callEnd(CallEnd(streamID: 1, status: status)))
        try expectRoundTrip(.callEnd(CallEnd(streamID: 1, status: status, message: "why: \(status)")))
    }

    @Test("call end: empty, multi-byte UTF-8 and maximum-length messages, with trailing metadata")
    func callEndMessages() throws {
        var trailers = Metadata()
        trailers.add("42", forKey: "retry-after-ms")
        trailers.add([0, 1, 2, 0xFF], forKey: "details-bin")
        let messages = [
            "",
            "é",
            "ünïcødé ✓ 日本語 🚀 \u{0}\r\n",
            String(repeating: "x", count: WireLimits.maxReasonLength),
            String(repeating: "€", count: WireLimits.maxReasonLength / 3),  // 4095 bytes of 3-byte characters
        ]
        for message in messages {
            for metadata in [Metadata(), trailers] {
                try expectRoundTrip(.callEnd(CallEnd(streamID: 0x7FFF_FFFF, status: .deadlineExceeded, message: message, metadata: metadata)))
            }
        }
    }

    @Test("call end: a status message over 4096 bytes is cut at a character boundary")
    func callEndTruncation() throws {
        // "a" then 2500 two-byte characters: byte 4096 falls inside a character, so the cut steps back to 4095.
        let long = "a" + String(repeating: "é", count: 2500)
        let frames = try decodeAll(encoded(.callEnd(CallEnd(streamID: 1, status: .internal, message: long))))
        let expected = "a" + String(repeating: "é", count: 2047)
        #expect(expected.utf8.count == 4095)
        #expect(frames == [.frame(.callEnd(CallEnd(streamID: 1, status: .internal, message: expected)))])

        // Exactly at a boundary: 4097 ASCII bytes keep 4096.
        let ascii = String(repeating: "b", count: 4097)
        #expect(
            try decodeAll(encoded(.callEnd(CallEnd(streamID: 1, status: .ok, message: ascii))))
                == [.frame(.callEnd(CallEnd(streamID: 1, status: .ok, message: String(ascii.dropLast()))))]
        )
    }

    static let cancelReasons: [CancelReason] = (0...6).map { CancelReason(rawValue: $0) } + [CancelReason(rawValue: 7), CancelReason(rawValue: 200), CancelReason(rawValue: 255)]

    @Test("cancel: every reason, including unknown ones", arguments: cancelReasons)
    func cancel(reason: CancelReason) throws {
        try expectRoundTrip(.cancel(streamID: 3, reason: reason))
        #expect(encoded(.cancel(streamID: 3, reason: reason)) == [0, 0, 0, 1, 0x06, 0, 0, 0, 0, 3, reason.rawValue])
    }

    @Test("credit: 0, 1 and UInt32.max", arguments: [UInt32(0), 1, 65_535, Settings.maxCredit, .max])
    func credit(bytes: UInt32) throws {
        try expectRoundTrip(.credit(streamID: 1, bytes: bytes))
        try expectRoundTrip(.credit(streamID: 0x7FFF_FFFF, bytes: bytes))
    }

    @Test("ping: ack and non-ack, 0 and UInt64.max", arguments: [false, true], [UInt64(0), 1, 0x0102_0304_0506_0708, .max])
    func ping(ack: Bool, payload: UInt64) throws {
        try expectRoundTrip(.ping(PingFrame(payload: payload, ack: ack)))
    }

    @Test("ping: exact bytes")
    func pingBytes() {
        #expect(
            encoded(.ping(PingFrame(payload: 0x0102_0304_0506_0708, ack: true)))
                == [0, 0, 0, 8, 0x08, 0x01, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
        )
    }

    static let goAwayCodes: [GoAwayCode] = (0...9).map { GoAwayCode(rawValue: $0) } + [GoAwayCode(rawValue: 10), GoAwayCode(rawValue: .max)]

    @Test("goaway: every code, including unknown ones", arguments: goAwayCodes)
    func goAway(code: GoAwayCode) throws {
        for lastStreamID in [UInt32(0), 1, 0x7FFF_FFFF] {
            for reason in ["", "draining", "ünïcødé 🚀", String(repeating: "r", count: WireLimits.maxReasonLength)] {
                try expectRoundTrip(.goAway(GoAway(lastStreamID: lastStreamID, code: code, reason: reason)))
            }
        }
    }

    @Test("goaway: a reason over 4096 bytes is cut at a character boundary")
    func goAwayTruncation() throws {
        let long = "a" + String(repeating: "é", count: 2500)
        let frames = try decodeAll(encoded(.goAway(GoAway(lastStreamID: 1, code: .noError, reason: long))))
        #expect(frames == [.frame(.goAway(GoAway(lastStreamID: 1, code: .noError, reason: "a" + String(repeating: "é", count: 2047))))])
    }

    @Test("goaway: exact bytes")
    func goAwayBytes() {
        #expect(
            encoded(.goAway(GoAway(lastStreamID: 7, code: .enhanceYourCalm, reason: "ab")))
                == [0, 0, 0, 12, 0x09, 0, 0, 0, 0, 0] + [0, 0, 0, 7] + [0, 0, 0, 6] + [0, 2] + Array("ab".utf8)
        )
    }

    // MARK: Frame accessors

    @Test("Frame.type and Frame.streamID match what goes on the wire")
    func frameAccessors() {
        let frames: [Frame] = [
            .settings(.default),
            .callStart(CallStart(streamID: 1, method: "a/b")),
            .message(.whole(streamID: 3, ByteBuffer())),
            .message(MessageFrame(streamID: 5, messageLength: nil, data: ByteBuffer())),
            .halfClose(streamID: 7),
            .callEnd(CallEnd(streamID: 9, status: .ok)),
            .cancel(streamID: 11, reason: .cancelled),
            .credit(streamID: 13, bytes: 1),
            .ping(PingFrame(payload: 0, ack: false)),
            .goAway(GoAway(lastStreamID: 15, code: .noError, reason: "")),
        ]
        let expectedTypes: [FrameType] = [
            .settings, .callStart, .message, .messageContinuation, .halfClose, .callEnd, .cancel, .credit, .ping, .goAway,
        ]
        #expect(frames.map(\.type) == expectedTypes)
        #expect(frames.map(\.streamID) == [0, 1, 3, 5, 7, 9, 11, 13, 0, 0])
        for frame in frames {
            let bytes = encoded(frame)
            #expect(bytes[4] == frame.type.rawValue)
            #expect(Array(bytes[6..<10]) == bigEndian(frame.streamID))
        }
    }
}
