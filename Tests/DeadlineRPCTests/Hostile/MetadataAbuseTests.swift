import DeadlineRPC
import NIOCore
import Testing
import Wire

extension HostileTests {
    /// HOSTILE.md E: metadata and compression.
    @Suite("E. Metadata and compression")
    struct MetadataAbuseTests {
        @Test("E25: metadata over the limit → RESOURCE_EXHAUSTED, decided from the declared length; exactly the limit passes")
        func metadataOverLimit() async throws {
            try await hostileCase("E25") { target in
                let raw = try await target.connect()
                // One entry: 1 (key length) + 1 (key) + 2 (value length) + value = block bytes.
                func call(_ streamID: UInt32, blockBytes: Int) -> ByteBuffer {
                    var bytes = RawFrames.callStart(streamID: streamID, method: TestMethods.echo.name, entries: [(Array("k".utf8), Array(repeating: 0x61, count: blockBytes - 4))])
                    var message = RawFrames.encode([.message(.whole(streamID: streamID, ByteBuffer(bytes: echoBytes()), endStream: true))])
                    bytes.writeBuffer(&message)
                    return bytes
                }
                try await raw.send(call(1, blockBytes: 8192))
                #expect(await raw.awaitCallEnd(1)?.status == .ok)
                let start = ContinuousClock.now
                try await raw.send(call(3, blockBytes: 8193))
                let over = await raw.awaitCallEnd(3)
                let detection = ContinuousClock.now - start
                #expect(over?.status == .resourceExhausted)
                // A block that declares 1 MiB inside a 40-byte frame: refused from the declared length, not as truncated.
                try await raw.send(RawFrames.callStart(streamID: 5, method: TestMethods.echo.name, entries: [(Array("k".utf8), Array("v".utf8))], declaredBlockLength: 1 << 20))
                #expect(await raw.awaitCallEnd(5)?.status == .resourceExhausted)
                try await raw.expectEchoWorks(streamID: 7)
                await raw.close()
                return HostileOutcome(outcome: "CALL_END(RESOURCE_EXHAUSTED) for that call; connection survives", boundary: "8192-byte block OK, 8193 → RESOURCE_EXHAUSTED", detection: detection)
            }
        }

        /// A metadata entry that breaks a key or value rule.
        struct BadEntry: Sendable, CustomTestStringConvertible {
            let name: String
            let key: [UInt8]
            let value: [UInt8]
            var testDescription: String { self.name }
        }

        static let badEntries: [BadEntry] = [
            BadEntry(name: "upper-case key", key: Array("X-Trace".utf8), value: Array("1".utf8)),
            BadEntry(name: "key with CR", key: Array("a\rb".utf8), value: Array("1".utf8)),
            BadEntry(name: "key with LF", key: Array("a\nb".utf8), value: Array("1".utf8)),
            BadEntry(name: "key with NUL", key: [0x61, 0, 0x62], value: Array("1".utf8)),
            BadEntry(name: "empty key", key: [], value: Array("1".utf8)),
            BadEntry(name: "reserved prefix", key: Array("drpc-deadline".utf8), value: Array("1".utf8)),
            BadEntry(name: "value with LF", key: Array("x-ok".utf8), value: Array("a\nb".utf8)),
            BadEntry(name: "value with NUL", key: Array("x-ok".utf8), value: [0x61, 0]),
            BadEntry(name: "non-ASCII value", key: Array("x-ok".utf8), value: [0xC3, 0xA9]),
        ]

        @Test("E26: bad metadata keys or values → only that call is rejected (INVALID_ARGUMENT); the connection survives", arguments: Self.badEntries)
        func badMetadata(_ entry: BadEntry) async throws {
            try await hostileCase("E26") { target in
                let raw = try await target.connect()
                let start = ContinuousClock.now
                var bytes = RawFrames.callStart(streamID: 1, method: TestMethods.echo.name, entries: [(entry.key, entry.value)])
                var message = RawFrames.encode([.message(.whole(streamID: 1, ByteBuffer(bytes: echoBytes()), endStream: true))])
                bytes.writeBuffer(&message)
                try await raw.send(bytes)
                let end = await raw.awaitCallEnd(1)
                let detection = ContinuousClock.now - start
                #expect(end?.status == .invalidArgument)
                #expect(target.gauge.maxRunning == 0, "no handler runs for a rejected call")
                try await raw.expectEchoWorks(streamID: 3)
                await raw.close()
                return HostileOutcome(outcome: "CALL_END(INVALID_ARGUMENT) for \(entry.name); connection survives", boundary: "the first bad byte", detection: detection)
            }
        }

        @Test("E27: declared message length = max succeeds; max + 1 → RESOURCE_EXHAUSTED with nothing buffered")
        func messageLengthBoundary() async throws {
            try await hostileCase("E27") { target in
                let max = WireLimits.default.maxMessageSize
                // Exactly the maximum, through the real client (it follows the credit the server grants).
                let client = RPCClient(host: "127.0.0.1", port: target.port)
                let echoed = try await client.unary(TestMethods.raw, ByteBuffer(repeating: 0x5A, count: max), options: CallOptions(timeout: .seconds(60)))
                await client.close()
                #expect(echoed.readableBytes == max)
                // One more: the frame carries only 4 of the announced bytes; the verdict cannot wait for the rest.
                let raw = try await target.connect()
                try await raw.send(.callStart(CallStart(streamID: 1, method: TestMethods.raw.name)))
                var frame = RawFrames.header(length: 8, type: FrameType.message.rawValue, flags: FrameFlags.more, streamID: 1)
                frame.writeInteger(UInt32(max + 1), endianness: .big)
                frame.writeBytes([1, 2, 3, 4])
                let start = ContinuousClock.now
                try await raw.send(frame)
                let end = await raw.awaitCallEnd(1)
                let detection = ContinuousClock.now - start
                #expect(end?.status == .resourceExhausted)
                await raw.close()
                return HostileOutcome(outcome: "4 MiB echoed OK; 4 MiB + 1 → CALL_END(RESOURCE_EXHAUSTED) after 4 of its bytes", boundary: "4194304 OK, 4194305 → RESOURCE_EXHAUSTED", detection: detection)
            }
        }

        /// 64 MiB of zeros, gzipped (about 64 KiB): a decompression bomb 16 times the message limit.
        static let bomb: ByteBuffer = {
            let zeros = ByteBuffer(repeating: 0, count: 64 * 1024 * 1024)
            return try! MessageCompressor().compress(zeros, encoding: .gzip)
        }()

        @Test("E28: a compressed message that inflates past the max → RESOURCE_EXHAUSTED; extra memory ≈ max + one chunk")
        func decompressionBomb() async throws {
            let bomb = Self.bomb  // built before the memory baseline
            try await hostileCase("E28") { target in
                let raw = try await target.connect()
                #expect(bomb.readableBytes < 64 * 1024, "the bomb fits the initial credit")
                var bytes = RawFrames.encode([.callStart(CallStart(streamID: 1, method: TestMethods.raw.name, encoding: .gzip))])
                var remaining = bomb
                let total = UInt32(bomb.readableBytes)
                var first = true
                while remaining.readableBytes > 0 {
                    let chunk = remaining.readSlice(length: min(remaining.readableBytes, first ? 16380 : 16384))!
                    let more = remaining.readableBytes > 0
                    FrameEncoder.write(.message(MessageFrame(streamID: 1, messageLength: first ? total : nil, data: chunk, more: more, endStream: !more, compressed: first)), into: &bytes)
                    first = false
                }
                let start = ContinuousClock.now
                try await raw.send(bytes)
                let end = await raw.awaitCallEnd(1)
                let detection = ContinuousClock.now - start
                #expect(end?.status == .resourceExhausted)
                try await raw.expectEchoWorks(streamID: 3)
                await raw.close()
                return HostileOutcome(outcome: "CALL_END(RESOURCE_EXHAUSTED) for a \(total)-byte gzip of 64 MiB; connection survives", boundary: "inflation stops at 4 MiB (max message)", detection: detection)
            }
        }

        @Test("E29: compressed flag with no encoding → INTERNAL; an undefined encoding → UNIMPLEMENTED")
        func compressionMismatch() async throws {
            try await hostileCase("E29") { target in
                let raw = try await target.connect()
                let start = ContinuousClock.now
                try await raw.send(
                    .callStart(CallStart(streamID: 1, method: TestMethods.raw.name)),
                    .message(.whole(streamID: 1, ByteBuffer(bytes: [1, 2, 3]), endStream: true, compressed: true))
                )
                #expect(await raw.awaitCallEnd(1)?.status == .internal)
                let detection = ContinuousClock.now - start
                try await raw.send(RawFrames.callStart(streamID: 3, method: TestMethods.raw.name, encoding: 9))
                #expect(await raw.awaitCallEnd(3)?.status == .unimplemented)
                try await raw.expectEchoWorks(streamID: 5)
                await raw.close()
                return HostileOutcome(outcome: "COMPRESSED on identity → INTERNAL; encoding 9 → UNIMPLEMENTED; connection survives", boundary: "the first such message / call", detection: detection)
            }
        }
    }
}
