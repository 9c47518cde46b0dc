import NIOCore
import Testing

@testable import Wire

@Suite("FrameDecoder: input split anywhere", .timeLimit(.minutes(5)))
struct FrameDecoderSplitTests {
    static let limits = WireLimits(maxFrameSize: 1024)
    static let message = patternBuffer(count: 3000, seed: 7)  // three frames at a 1024-byte frame size

    /// Preface, settings and a realistic mix of frames, including a message split by `writeMessage`, an unknown
    /// frame type and a frame that is a stream error.
    static func conversation() throws -> (bytes: [UInt8], expected: [DecodedFrame], ignored: Int) {
        var metadata = Metadata()
        metadata.add("acme", forKey: "tenant")
        metadata.add([0xDE, 0xAD, 0xBE, 0xEF], forKey: "trace-bin")
        let callStart = CallStart(
            streamID: 1,
            method: "echo.Echo/Get",
            budget: WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: 1_000_000),
            hopCount: 1,
            encoding: .gzip,
            metadata: metadata
        )
        let settings = Settings(limits: limits)
        var bytes = ByteBuffer()
        Preface.write(into: &bytes)
        FrameEncoder.write(.settings(settings), into: &bytes)
        FrameEncoder.write(.callStart(callStart), into: &bytes)
        FrameEncoder.writeMessage(streamID: 1, message: message, maxFrameSize: limits.maxFrameSize, into: &bytes)
        FrameEncoder.write(.credit(streamID: 1, bytes: 65_536), into: &bytes)
        FrameEncoder.write(.ping(PingFrame(payload: 0xFEED, ack: false)), into: &bytes)
        bytes.writeBytes(RawFrame.frame(type: 0x33, flags: 0x5, streamID: 1, payload: [1, 2, 3, 4, 5, 6, 7]))
        FrameEncoder.write(.halfClose(streamID: 1), into: &bytes)
        FrameEncoder.write(.callStart(CallStart(streamID: 3, method: "kv.Store/Put")), into: &bytes)
        FrameEncoder.writeMessage(streamID: 3, message: patternBuffer(count: 10), compressed: true, endStream: true, maxFrameSize: limits.maxFrameSize, into: &bytes)
        let badCallEnd = RawFrame.frame(.callEnd, streamID: 5, payload: RawFrame.callEndPayload(status: 2, message: [0xC3, 0x28]))
        bytes.writeBytes(badCallEnd)
        FrameEncoder.write(.callEnd(CallEnd(streamID: 1, status: .ok, message: "✓ 完了", metadata: ["took-ms": "3"])), into: &bytes)
        FrameEncoder.write(.cancel(streamID: 3, reason: .deadlineExceeded), into: &bytes)
        FrameEncoder.write(.ping(PingFrame(payload: .max, ack: true)), into: &bytes)
        FrameEncoder.write(.goAway(GoAway(lastStreamID: 3, code: .noError, reason: "draining")), into: &bytes)

        var rest = message
        let expected: [DecodedFrame] = [
            .frame(.settings(settings)),
            .frame(.callStart(callStart)),
            .frame(.message(MessageFrame(streamID: 1, messageLength: 3000, data: rest.readSlice(length: 1020)!, more: true))),
            .frame(.message(MessageFrame(streamID: 1, messageLength: nil, data: rest.readSlice(length: 1024)!, more: true))),
            .frame(.message(MessageFrame(streamID: 1, messageLength: nil, data: rest.readSlice(length: 956)!))),
            .frame(.credit(streamID: 1, bytes: 65_536)),
            .frame(.ping(PingFrame(payload: 0xFEED, ack: false))),
            .frame(.halfClose(streamID: 1)),
            .frame(.callStart(CallStart(streamID: 3, method: "kv.Store/Put"))),
            .frame(.message(.whole(streamID: 3, patternBuffer(count: 10), endStream: true, compressed: true))),
            try #require(try decodeAll(badCallEnd).first),  // a stream error, checked in `wholeStream`
            .frame(.callEnd(CallEnd(streamID: 1, status: .ok, message: "✓ 完了", metadata: ["took-ms": "3"]))),
            .frame(.cancel(streamID: 3, reason: .deadlineExceeded)),
            .frame(.ping(PingFrame(payload: .max, ack: true))),
            .frame(.goAway(GoAway(lastStreamID: 3, code: .noError, reason: "draining"))),
        ]
        return (Array(bytes.readableBytesView), expected, 1)
    }

    @Test("the conversation decodes whole to exactly the expected frames")
    func wholeStream() throws {
        let (bytes, expected, ignored) = try Self.conversation()
        var decoder = FrameDecoder(limits: Self.limits)
        decoder.append(buffer(bytes))
        let frames = try decoder.drain()
        #expect(frames.count == expected.count)
        for (got, want) in zip(frames, expected) { #expect(got == want) }
        expectStreamError(frames[10], streamID: 5, type: .callEnd, code: .invalidUTF8)
        #expect(decoder.ignoredFrameCount == ignored)
        #expect(decoder.bufferedBytes == 0)

        // The three message frames reassemble to the message.
        var assembler = MessageAssembler()
        var result: MessageAssembler.Message?
        for case .frame(.message(let frame)) in frames where frame.streamID == 1 {
            result = try assembler.receive(frame)
        }
        #expect(result == MessageAssembler.Message(bytes: Self.message, compressed: false))
    }

    @Test("split in two at every byte position, the conversation decodes to exactly the same frames")
    func splitAtEveryPosition() throws {
        let (bytes, expected, ignored) = try Self.conversation()
        for position in 0...bytes.count {
            var decoder = FrameDecoder(limits: Self.limits)
            decoder.append(buffer(Array(bytes[..<position])))
            var frames = try decoder.drain()
            decoder.append(buffer(Array(bytes[position...])))
            frames += try decoder.drain()
            if frames != expected || decoder.ignoredFrameCount != ignored || decoder.bufferedBytes != 0 {
                Issue.record("split at \(position) of \(bytes.count) decoded differently: \(frames.count) frames, \(decoder.ignoredFrameCount) ignored")
                return
            }
        }
    }

    @Test("split in two at every byte position, with the second half appended as raw bytes")
    func splitAtEveryPositionContentsOf() throws {
        let (bytes, expected, ignored) = try Self.conversation()
        for position in stride(from: 0, through: bytes.count, by: 1) {
            var decoder = FrameDecoder(limits: Self.limits)
            decoder.append(contentsOf: bytes[..<position])
            var frames = try decoder.drain()
            decoder.append(contentsOf: bytes[position...])
            frames += try decoder.drain()
            if frames != expected || decoder.ignoredFrameCount != ignored {
                Issue.record("split at \(position) decoded differently")
                return
            }
        }
    }

    @Test("fed one byte at a time, the conversation decodes to exactly the same frames, each as soon as it is complete")
    func oneByteAtATime() throws {
        let (bytes, expected, ignored) = try Self.conversation()
        var decoder = FrameDecoder(limits: Self.limits)
        var frames: [DecodedFrame] = []
        for byte in bytes {
            decoder.append(buffer([byte]))
            let new = try decoder.drain()
            #expect(new.count <= 1)
            frames += new
            // Never more buffered than one header plus one frame payload.
            #expect(decoder.bufferedBytes <= FrameHeader.size + Self.limits.maxFrameSize)
        }
        #expect(frames == expected)
        #expect(decoder.ignoredFrameCount == ignored)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("split into three pieces at many position pairs, the conversation decodes the same")
    func splitInThree() throws {
        let (bytes, expected, _) = try Self.conversation()
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<300 {
            let a = Int.random(in: 0...bytes.count, using: &generator)
            let b = Int.random(in: a...bytes.count, using: &generator)
            var decoder = FrameDecoder(limits: Self.limits)
            var frames: [DecodedFrame] = []
            for piece in [bytes[..<a], bytes[a..<b], bytes[b...]] {
                decoder.append(buffer(Array(piece)))
                frames += try decoder.drain()
            }
            #expect(frames == expected, "split at \(a) and \(b)")
        }
    }

    @Test("the decoder's storage stays bounded when reads keep ending inside a frame")
    func storageStaysBounded() throws {
        // One frame of 111 bytes, then 4000 of 110, delivered in 385-byte reads: 385 * j = 111 + 110 * k has no
        // solution (gcd(385, 110) = 55 does not divide 111), so no read ever ends on a frame boundary and the decoder
        // never drains before the end. It must not keep every consumed byte (about 440 KB) in its buffer.
        func payload(_ index: Int) -> ByteBuffer { patternBuffer(count: index == 0 ? 97 : 96, seed: UInt8(index % 256)) }
        var stream: [UInt8] = []
        for index in 0...4000 {
            stream += encoded(.message(.whole(streamID: 1, payload(index))))
        }
        let chunk = 385
        var decoder = FrameDecoder(expectPreface: false)
        var decodedCount = 0
        var largestStorage = 0
        var retained: [ByteBuffer] = []  // keep some payloads alive, as a handler holding messages would
        var offset = 0
        while offset < stream.count {
            let end = min(offset + chunk, stream.count)
            decoder.append(contentsOf: stream[offset..<end])
            offset = end
            while let decoded = try decoder.nextFrame() {
                guard case .frame(.message(let frame)) = decoded else {
                    Issue.record("unexpected \(decoded)")
                    return
                }
                #expect(frame.data == payload(decodedCount))
                largestStorage = max(largestStorage, frame.data.storageCapacity)
                if decodedCount.isMultiple(of: 10) { retained.append(frame.data) }
                decodedCount += 1
            }
        }
        #expect(decodedCount == 4001)
        #expect(retained.count == 401)
        // A frame, a read and what is left over of the previous read, rounded up to a power of two, with room to spare.
        #expect(largestStorage <= 8 * 1024, "decoder storage grew to \(largestStorage) bytes")
    }

    @Test("mutated conversations never trap: each decodes or fails with a WireError")
    func mutationsNeverTrap() throws {
        let (bytes, _, _) = try Self.conversation()
        var generator = SplitMix64(seed: 0xF022)
        var connectionErrors = 0
        for _ in 0..<1500 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<mutated.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: mutated[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: mutated[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                case 2: mutated.remove(at: index)
                default: mutated.insert(UInt8.random(in: 0...255, using: &generator), at: index)
                }
            }
            var decoder = FrameDecoder(limits: Self.limits)
            let cut = Int.random(in: 0...mutated.count, using: &generator)
            do {
                decoder.append(contentsOf: mutated[..<cut])
                _ = try decoder.drain()
                decoder.append(contentsOf: mutated[cut...])
                _ = try decoder.drain()
                #expect(decoder.bufferedBytes <= FrameHeader.size + Self.limits.maxFrameSize)
            } catch {
                connectionErrors += 1
                #expect(error.isConnectionError)
            }
        }
        #expect(connectionErrors > 0)
    }
}
