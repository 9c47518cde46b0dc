import Foundation
import NIOCore
import Testing
import Wire

/// The worked examples of `docs/PROTOCOL.md` §16, read from the document itself so spec and code cannot drift apart.
///
/// Every fenced block whose info string is `hex <name>` is an example: one field per line, annotations after `#`.
/// Each test decodes the example's bytes with `FrameDecoder` (whole, and fed one byte at a time), checks every field,
/// and checks that `FrameEncoder` produces exactly the same bytes.
@Suite("PROTOCOL.md worked examples", .timeLimit(.minutes(5)))
struct ProtocolExamplesTests {
    /// Every example the document must contain; an extra or a missing block fails ``documentHasExactlyTheseExamples()``.
    static let expectedNames: Set<String> = [
        "preface", "settings-defaults", "call-start", "message", "message-split", "half-close", "credit", "ping-ack",
        "call-end-ok", "call-end-error", "cancel-deadline", "goaway",
    ]

    // MARK: Reading the document

    struct DocumentError: Error, CustomStringConvertible {
        var description: String
    }

    /// `docs/PROTOCOL.md`, located from this file's path (`Tests/WireTests/<this file>`).
    static func protocolDocumentPath(filePath: String = #filePath) -> String {
        URL(fileURLWithPath: filePath)
            .deletingLastPathComponent()  // WireTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // package root
            .appendingPathComponent("docs")
            .appendingPathComponent("PROTOCOL.md")
            .path
    }

    /// Parses every ```` ```hex <name> ```` block of the document into its bytes.
    static func parseExamples(_ document: String) throws -> [String: [UInt8]] {
        var examples: [String: [UInt8]] = [:]
        var current: (name: String, hex: String)? = nil
        for rawLine in document.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if var block = current {
                if line == "```" {
                    guard examples[block.name] == nil else {
                        throw DocumentError(description: "Example '\(block.name)' appears twice in PROTOCOL.md.")
                    }
                    examples[block.name] = try Self.bytes(fromHex: block.hex, example: block.name)
                    current = nil
                } else {
                    let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                    block.hex += code.filter { !$0.isWhitespace }
                    current = block
                }
            } else if line.hasPrefix("```hex ") {
                let name = line.dropFirst("```hex ".count).trimmingCharacters(in: .whitespaces)
                current = (name: name, hex: "")
            }
        }
        if let open = current {
            throw DocumentError(description: "Example '\(open.name)' is not closed by ``` in PROTOCOL.md.")
        }
        return examples
    }

    static func bytes(fromHex hex: String, example: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0 else {
            throw DocumentError(description: "Example '\(example)' has \(digits.count) hex digits; expected a non-zero even count.")
        }
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default:
                throw DocumentError(description: "Example '\(example)' has a non-hex character '\(Character(Unicode.Scalar(c)))' outside a # comment.")
            }
        }
        return try stride(from: 0, to: digits.count, by: 2).map { try nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    static let examples: Result<[String: [UInt8]], any Error> = Result {
        let path = Self.protocolDocumentPath()
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DocumentError(description: "Cannot read \(path).")
        }
        return try Self.parseExamples(String(decoding: data, as: UTF8.self))
    }

    /// The bytes of one example, exactly as written in PROTOCOL.md.
    func example(_ name: String) throws -> [UInt8] {
        let examples = try Self.examples.get()
        return try #require(examples[name], "PROTOCOL.md has no ```hex \(name) block")
    }

    // MARK: Decoding and encoding helpers

    /// Decodes bare frames (no preface expected), checking that the bytes hold exactly `count` frames.
    func decodeFrames(_ bytes: [UInt8], count: Int) throws -> [Frame] {
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(ByteBuffer(bytes: bytes))
        var frames: [Frame] = []
        while let decoded = try decoder.nextFrame() {
            guard case .frame(let frame) = decoded else {
                Issue.record("Expected a valid frame, got \(decoded)")
                return frames
            }
            frames.append(frame)
        }
        #expect(frames.count == count)
        #expect(decoder.bufferedBytes == 0, "every byte of the example belongs to a frame")
        #expect(decoder.ignoredFrameCount == 0, "no unknown type or undefined flag in the example")

        // The same bytes fed one at a time decode to the same frames.
        var trickle = FrameDecoder(expectPreface: false)
        var trickled: [Frame] = []
        for byte in bytes {
            trickle.append(contentsOf: [byte])
            while let decoded = try trickle.nextFrame() {
                if case .frame(let frame) = decoded { trickled.append(frame) }
            }
        }
        #expect(trickled == frames)
        return frames
    }

    func decodeFrame(_ bytes: [UInt8]) throws -> Frame {
        let frames = try decodeFrames(bytes, count: 1)
        return try #require(frames.first)
    }

    func encode(_ frames: Frame...) -> [UInt8] {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, into: &buffer) }
        return Array(buffer.readableBytesView)
    }

    /// The 10-byte header fields, read straight from the bytes.
    func header(_ bytes: [UInt8], at offset: Int = 0) -> (length: UInt32, type: UInt8, flags: UInt8, streamID: UInt32) {
        func u32(_ i: Int) -> UInt32 { bytes[i..<i + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        return (u32(offset), bytes[offset + 4], bytes[offset + 5], u32(offset + 6))
    }

    // MARK: The document

    @Test func documentHasExactlyTheseExamples() throws {
        let examples = try Self.examples.get()
        #expect(Set(examples.keys) == Self.expectedNames)
    }

    @Test func parserStripsAnnotationsAndRejectsStrayCharacters() throws {
        let parsed = try Self.parseExamples("text\n```hex x\n0a 0B  # a comment with 99 in it\nff\n```\n")
        #expect(parsed == ["x": [0x0a, 0x0b, 0xff]])
        #expect(throws: DocumentError.self) { try Self.parseExamples("```hex y\n0g\n```\n") }
        #expect(throws: DocumentError.self) { try Self.parseExamples("```hex z\n0a\n") }
    }

    // MARK: §16.1 and §16.2: preface and settings

    @Test func preface() throws {
        let bytes = try example("preface")
        #expect(bytes.count == Preface.size)
        #expect(Array(bytes[0..<4]) == Preface.magic)
        #expect(Array(bytes[0..<4]) == Array("DRPC".utf8))
        #expect(UInt16(bytes[4]) << 8 | UInt16(bytes[5]) == Preface.version)
        #expect(Preface.version == 1)
        #expect(Array(bytes[6..<8]) == [0x0d, 0x0a])

        var decoder = FrameDecoder()
        decoder.append(contentsOf: bytes)
        #expect(try decoder.nextFrame() == nil, "the preface alone yields no frame")
        #expect(decoder.bufferedBytes == 0, "the preface was consumed")

        var buffer = ByteBuffer()
        FrameEncoder.writePreface(into: &buffer)
        #expect(Array(buffer.readableBytesView) == bytes)

        // A different version in the same layout is refused as unsupported, naming both versions.
        var other = bytes
        other[5] = 2
        var strict = FrameDecoder()
        strict.append(contentsOf: other)
        let error = try #require(throws: WireError.self) { try strict.nextFrame() }
        #expect(error.code == .unsupportedVersion)
        #expect(error.goAwayCode == .unsupportedVersion)
    }

    @Test func settingsWithDefaults() throws {
        let bytes = try example("settings-defaults")
        let h = header(bytes)
        #expect(h.length == 42 && h.type == FrameType.settings.rawValue && h.flags == 0 && h.streamID == 0)

        // SETTINGS is only valid right after the preface, so decode the two examples in sequence.
        var decoder = FrameDecoder()
        decoder.append(contentsOf: try example("preface") + bytes)
        let decoded = try #require(try decoder.nextFrame())
        guard case .frame(.settings(let settings)) = decoded else {
            Issue.record("Expected SETTINGS, got \(decoded)")
            return
        }
        #expect(settings.maxFrameSize == 16_384)
        #expect(settings.maxConcurrentStreams == 100)
        #expect(settings.initialStreamCredit == 65_536)
        #expect(settings.maxMessageSize == 4_194_304)
        #expect(settings.maxMetadataSize == 8_192)
        #expect(settings.maxMetadataEntries == 64)
        #expect(settings.acceptedEncodings == MessageEncoding.gzip.settingsBit | MessageEncoding.deflate.settingsBit)
        #expect(settings == Settings.default)
        #expect(Settings(limits: .default) == Settings.default, "the advertised defaults are the enforced defaults")
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedBytes == 0)

        #expect(encode(.settings(.default)) == bytes)
    }

    // MARK: §16.3: CALL_START

    @Test func callStartWithDeadlineAndMetadata() throws {
        let bytes = try example("call-start")
        let h = header(bytes)
        #expect(h.length == 67 && h.type == FrameType.callStart.rawValue && h.streamID == 1)
        #expect(h.flags == FrameFlags.hasDeadline)

        let frame = try decodeFrame(bytes)
        guard case .callStart(let start) = frame else {
            Issue.record("Expected CALL_START, got \(frame)")
            return
        }
        #expect(start.streamID == 1)
        #expect(start.method == "echo.Echo/Get")
        let budget = try #require(start.budget)
        #expect(budget.remainingMicroseconds == 250_000)
        #expect(budget.originalMicroseconds == 250_000)
        #expect(start.hopCount == 0)
        #expect(start.encoding == .identity)
        #expect(start.metadata.count == 2)
        let entries = Array(start.metadata)
        #expect(entries.map(\.key) == ["tenant", "request-id"])
        #expect(entries.map(\.value) == [.string("acme"), .string("42")])
        #expect(start.metadata.first(forKey: "tenant") == "acme")
        #expect(start.metadata.first(forKey: "request-id") == "42")

        var metadata = Metadata()
        metadata.add("acme", forKey: "tenant")
        metadata.add("42", forKey: "request-id")
        #expect(metadata.validate() == nil)
        let expected = CallStart(
            streamID: 1,
            method: "echo.Echo/Get",
            budget: WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: 250_000),
            hopCount: 0,
            encoding: .identity,
            metadata: metadata
        )
        #expect(start == expected)
        #expect(encode(.callStart(expected)) == bytes)
    }

    // MARK: §16.4 to §16.8: MESSAGE, MESSAGE_CONTINUATION, HALF_CLOSE, CREDIT, PING

    @Test func wholeMessageWithEndStream() throws {
        let bytes = try example("message")
        let h = header(bytes)
        #expect(h.length == 9 && h.type == FrameType.message.rawValue && h.streamID == 1)
        #expect(h.flags == FrameFlags.endStream)

        let frame = try decodeFrame(bytes)
        guard case .message(let message) = frame else {
            Issue.record("Expected MESSAGE, got \(frame)")
            return
        }
        #expect(message.streamID == 1)
        #expect(message.messageLength == 5)
        #expect(message.data == ByteBuffer(string: "hello"))
        #expect(message.endStream)
        #expect(!message.more)
        #expect(!message.compressed)
        #expect(frame.type == .message)
        #expect(message.data.readableBytes == 5, "credit counts the chunk only, not the 4-byte length field")

        #expect(encode(.message(.whole(streamID: 1, ByteBuffer(string: "hello"), endStream: true))) == bytes)
    }

    @Test func messageSplitIntoContinuation() throws {
        let bytes = try example("message-split")
        let first = header(bytes)
        #expect(first.length == 8 && first.type == FrameType.message.rawValue && first.streamID == 3)
        #expect(first.flags == FrameFlags.more)
        let second = header(bytes, at: 10 + 8)
        #expect(second.length == 6 && second.type == FrameType.messageContinuation.rawValue && second.streamID == 3)
        #expect(second.flags == FrameFlags.endStream)

        let frames = try decodeFrames(bytes, count: 2)
        guard case .message(let head) = frames[0], case .message(let tail) = frames[1] else {
            Issue.record("Expected two message frames, got \(frames)")
            return
        }
        #expect(frames.map(\.type) == [.message, .messageContinuation])
        #expect(head.streamID == 3 && tail.streamID == 3)
        #expect(head.messageLength == 10)
        #expect(head.data == ByteBuffer(string: "0123"))
        #expect(head.more && !head.endStream && !head.compressed)
        #expect(tail.messageLength == nil)
        #expect(tail.data == ByteBuffer(string: "456789"))
        #expect(!tail.more && tail.endStream && !tail.compressed)

        var assembler = MessageAssembler()
        #expect(try assembler.receive(head) == nil)
        #expect(assembler.isAssembling)
        let message = try #require(try assembler.receive(tail))
        #expect(message.bytes == ByteBuffer(string: "0123456789"))
        #expect(!message.compressed)

        var buffer = ByteBuffer()
        FrameEncoder.writeMessage(
            streamID: 3,
            message: ByteBuffer(string: "0123456789"),
            endStream: true,
            maxFrameSize: 8,
            into: &buffer
        )
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(encode(frames[0], frames[1]) == bytes)
    }

    @Test func halfClose() throws {
        let bytes = try example("half-close")
        let h = header(bytes)
        #expect(h.length == 0 && h.type == FrameType.halfClose.rawValue && h.flags == 0 && h.streamID == 3)
        #expect(try decodeFrame(bytes) == .halfClose(streamID: 3))
        #expect(encode(.halfClose(streamID: 3)) == bytes)
    }

    @Test func credit() throws {
        let bytes = try example("credit")
        let h = header(bytes)
        #expect(h.length == 4 && h.type == FrameType.credit.rawValue && h.flags == 0 && h.streamID == 1)
        #expect(try decodeFrame(bytes) == .credit(streamID: 1, bytes: 65_536))
        #expect(encode(.credit(streamID: 1, bytes: 65_536)) == bytes)
    }

    @Test func pingAck() throws {
        let bytes = try example("ping-ack")
        let h = header(bytes)
        #expect(h.length == 8 && h.type == FrameType.ping.rawValue && h.streamID == 0)
        #expect(h.flags == FrameFlags.ack)
        let frame = try decodeFrame(bytes)
        #expect(frame == .ping(PingFrame(payload: 0x0102_0304_0506_0708, ack: true)))
        #expect(frame.streamID == 0)
        #expect(encode(.ping(PingFrame(payload: 0x0102_0304_0506_0708, ack: true))) == bytes)

        // The ping it answers: the same bytes with flags 00.
        var ping = bytes
        ping[5] = 0
        #expect(try decodeFrame(ping) == .ping(PingFrame(payload: 0x0102_0304_0506_0708, ack: false)))
    }

    // MARK: §16.9 and §16.10: CALL_END

    @Test func callEndOK() throws {
        let bytes = try example("call-end-ok")
        let h = header(bytes)
        #expect(h.length == 9 && h.type == FrameType.callEnd.rawValue && h.flags == 0 && h.streamID == 1)
        let frame = try decodeFrame(bytes)
        guard case .callEnd(let end) = frame else {
            Issue.record("Expected CALL_END, got \(frame)")
            return
        }
        #expect(end.streamID == 1)
        #expect(end.status == .ok)
        #expect(end.status.rawValue == 0)
        #expect(end.message == "")
        #expect(end.metadata.isEmpty)
        #expect(encode(.callEnd(CallEnd(streamID: 1, status: .ok))) == bytes)
    }

    @Test func callEndWithErrorAndTrailingMetadata() throws {
        let bytes = try example("call-end-error")
        let h = header(bytes)
        #expect(h.length == 54 && h.type == FrameType.callEnd.rawValue && h.flags == 0 && h.streamID == 3)
        let frame = try decodeFrame(bytes)
        guard case .callEnd(let end) = frame else {
            Issue.record("Expected CALL_END, got \(frame)")
            return
        }
        #expect(end.streamID == 3)
        #expect(end.status == .notFound)
        #expect(end.status.rawValue == 5)
        #expect(end.message == "no such key")
        let entries = Array(end.metadata)
        #expect(entries.map(\.key) == ["retry-after-ms", "trace-bin"])
        #expect(entries.map(\.value) == [.string("100"), .binary([0xca, 0xfe])])

        var metadata = Metadata()
        metadata.add("100", forKey: "retry-after-ms")
        metadata.add([0xca, 0xfe], forKey: "trace-bin")
        #expect(metadata.validate() == nil)
        let expected = CallEnd(streamID: 3, status: .notFound, message: "no such key", metadata: metadata)
        #expect(end == expected)
        #expect(encode(.callEnd(expected)) == bytes)
    }

    // MARK: §16.11 and §16.12: CANCEL and GOAWAY

    @Test func cancelWithDeadlineExceeded() throws {
        let bytes = try example("cancel-deadline")
        let h = header(bytes)
        #expect(h.length == 1 && h.type == FrameType.cancel.rawValue && h.flags == 0 && h.streamID == 1)
        let frame = try decodeFrame(bytes)
        #expect(frame == .cancel(streamID: 1, reason: .deadlineExceeded))
        guard case .cancel(_, let reason) = frame else { return }
        #expect(reason.rawValue == 1)
        #expect(reason.statusCode == .deadlineExceeded)
        #expect(encode(.cancel(streamID: 1, reason: .deadlineExceeded)) == bytes)

        // An undefined reason is read as "cancelled".
        var unknown = bytes
        unknown[10] = 0xff
        guard case .cancel(_, let other) = try decodeFrame(unknown) else {
            Issue.record("Expected CANCEL")
            return
        }
        #expect(other.statusCode == .cancelled)
    }

    @Test func goAway() throws {
        let bytes = try example("goaway")
        let h = header(bytes)
        #expect(h.length == 31 && h.type == FrameType.goAway.rawValue && h.flags == 0 && h.streamID == 0)
        let frame = try decodeFrame(bytes)
        guard case .goAway(let goAway) = frame else {
            Issue.record("Expected GOAWAY, got \(frame)")
            return
        }
        #expect(goAway.lastStreamID == 7)
        #expect(goAway.code == .protocolError)
        #expect(goAway.code.rawValue == 1)
        #expect(goAway.reason == "stream 9 never opened")
        let expected = GoAway(lastStreamID: 7, code: .protocolError, reason: "stream 9 never opened")
        #expect(goAway == expected)
        #expect(encode(.goAway(expected)) == bytes)
    }
}
