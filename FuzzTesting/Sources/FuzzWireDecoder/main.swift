// libFuzzer target for Wire's frame decoder. Build with `-sanitize=fuzzer` and `-parse-as-library` (libFuzzer
// provides `main`); see FuzzTesting/README.md for the commands.
//
// Input layout: byte 0 is a control byte, the rest is the byte stream a peer sent.
//   bit 0 of the control byte: 0 = a connection start (preface, then SETTINGS), 1 = bare frames
//   bits 1...7: where the stream is split in two for incremental decoding, in 128ths of its length
//
// Errors from the decoder, the assembler or the decompressor are expected. A trap is a finding: a crash, a broken
// invariant (the split decode differs from the whole one, the decoder buffers more than one frame, recovers from a
// sticky error, or an encode/decode round trip changes a frame), or a decompressed message over its limit.

import FuzzSupport
import NIOCore
import Wire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The receive limits under test: the protocol's defaults.
private let limits = WireLimits.default
/// The decompression limit used for compressed messages.
private let maxDecompressedSize = 64 * 1024

/// Traps (so libFuzzer saves the input) when an invariant is broken.
private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        fatalError("FuzzWireDecoder: invariant broken: \(message())")
    }
}

/// What decoding a byte stream produced: its frames, in order, then the error that stopped it (if any).
private struct DecodeRun: Equatable {
    var frames: [DecodedFrame] = []
    var error: WireError? = nil
}

/// Feeds `chunks` one at a time, pulling frames after each until the decoder needs more bytes or fails.
private func decode(_ chunks: [ArraySlice<UInt8>], expectPreface: Bool, asBuffers: Bool) -> DecodeRun {
    var decoder = FrameDecoder(limits: limits, expectPreface: expectPreface)
    var run = DecodeRun()
    for chunk in chunks {
        if asBuffers {
            decoder.append(ByteBuffer(bytes: chunk))
        } else {
            decoder.append(contentsOf: chunk)
        }
        do {
            while let decoded = try decoder.nextFrame() {
                run.frames.append(decoded)
            }
            // Waiting for more: at most one incomplete header plus one in-limit payload may be held.
            require(
                decoder.bufferedBytes < FrameHeader.size + limits.maxFrameSize,
                "decoder holds \(decoder.bufferedBytes) bytes while waiting for more"
            )
        } catch {
            run.error = error
            do {
                let next = try decoder.nextFrame()
                require(false, "decoder returned \(String(describing: next)) after failing with \(error)")
            } catch let again {
                require(again == error, "decoder error not sticky: \(error) then \(again)")
            }
            return run
        }
    }
    return run
}

/// Whether `short` is `long` cut at a character boundary to the sender's reason limit.
private func isSenderTruncation(_ short: String, of long: String) -> Bool {
    let shortBytes = Array(short.utf8)
    let longBytes = Array(long.utf8)
    return shortBytes.count <= WireLimits.maxReasonLength
        && shortBytes.count > WireLimits.maxReasonLength - 4
        && longBytes.starts(with: shortBytes)
}

/// Encodes `frame` and decodes it again; the result must be the same frame. The one documented difference: a
/// sender cuts a goaway reason or a status message to `WireLimits.maxReasonLength` bytes, while a receiver accepts
/// longer ones.
private func checkRoundTrip(_ frame: Frame) {
    var buffer = ByteBuffer()
    var expectPreface = false
    if case .settings = frame {
        // Decode SETTINGS as a connection sees it: right after the preface.
        FrameEncoder.writePreface(into: &buffer)
        expectPreface = true
    }
    FrameEncoder.write(frame, into: &buffer)
    let encoded = Array(buffer.readableBytesView)
    var decoder = FrameDecoder(limits: limits, expectPreface: expectPreface)
    decoder.append(buffer)
    let again: DecodedFrame?
    do {
        again = try decoder.nextFrame()
        let rest = try decoder.nextFrame()
        require(rest == nil && decoder.bufferedBytes == 0, "re-encoded \(frame.type) left bytes over: \(encoded)")
    } catch {
        require(false, "re-encoded \(frame.type) does not decode: \(error); bytes \(encoded)")
        return
    }
    guard case .frame(var decoded) = again else {
        require(false, "re-encoded \(frame.type) decodes to \(String(describing: again)); bytes \(encoded)")
        return
    }
    switch (frame, decoded) {
    case (.goAway(let original), .goAway(var copy)) where copy.reason != original.reason:
        require(isSenderTruncation(copy.reason, of: original.reason), "goaway reason changed in a round trip")
        copy.reason = original.reason
        decoded = .goAway(copy)
    case (.callEnd(let original), .callEnd(var copy)) where copy.message != original.message:
        require(isSenderTruncation(copy.message, of: original.message), "status message changed in a round trip")
        copy.message = original.message
        decoded = .callEnd(copy)
    default:
        break
    }
    require(decoded == frame, "round trip changed the frame:\n  \(frame)\n  \(decoded)")
}

/// One stream's receive side, as a connection would keep it.
private struct StreamState {
    var encoding: MessageEncoding
    var assembler = MessageAssembler()
}

/// Reassembles messages per stream and inflates compressed ones, as the connection does on receipt.
private func consume(_ frames: [DecodedFrame]) {
    var streams: [UInt32: StreamState] = [:]
    let compressor = MessageCompressor()
    for decoded in frames {
        guard case .frame(let frame) = decoded else {
            streams[decoded.streamID] = nil  // a stream error ends that call
            continue
        }
        checkRoundTrip(frame)
        switch frame {
        case .callStart(let start):
            streams[start.streamID] = StreamState(encoding: start.encoding)
        case .cancel(let streamID, _), .halfClose(let streamID):
            streams[streamID] = nil
        case .callEnd(let end):
            streams[end.streamID] = nil
        case .message(let message):
            // Without a CALL_START, pick the encoding from the stream id so all three are reachable.
            var state =
                streams[message.streamID]
                ?? StreamState(encoding: MessageEncoding(rawValue: UInt8(message.streamID % 3)))
            let assembled: MessageAssembler.Message?
            do {
                assembled = try state.assembler.receive(message)
            } catch {
                streams[message.streamID] = nil
                continue
            }
            streams[message.streamID] = state
            if let assembled {
                require(
                    assembled.bytes.readableBytes <= limits.maxMessageSize,
                    "assembled message of \(assembled.bytes.readableBytes) bytes"
                )
                if assembled.compressed {
                    inflate(assembled.bytes, encoding: state.encoding, compressor: compressor)
                }
            }
        default:
            break
        }
    }
}

/// Decompresses a message; when that works, compressing and decompressing the result must give it back.
private func inflate(_ bytes: ByteBuffer, encoding: MessageEncoding, compressor: MessageCompressor) {
    let plain: ByteBuffer
    do {
        plain = try compressor.decompress(bytes, encoding: encoding, maxSize: maxDecompressedSize)
    } catch {
        return
    }
    require(plain.readableBytes <= maxDecompressedSize, "\(encoding) inflated to \(plain.readableBytes) bytes")
    do {
        let packed = try compressor.compress(plain, encoding: encoding)
        let unpacked = try compressor.decompress(packed, encoding: encoding, maxSize: maxDecompressedSize)
        require(unpacked == plain, "\(encoding) compress/decompress round trip changed \(plain.readableBytes) bytes")
    } catch {
        require(false, "\(encoding) could not round-trip \(plain.readableBytes) bytes it had inflated: \(error)")
    }
}

extension DecodedFrame {
    fileprivate var streamID: UInt32 {
        switch self {
        case .frame(let frame): return frame.streamID
        case .streamError(let streamID, _, _): return streamID
        }
    }
}

private func fuzz(_ input: UnsafeRawBufferPointer) {
    guard let control = input.first else { return }
    let stream = Array(input.dropFirst())
    let expectPreface = control & 1 == 0
    let split = Int(control >> 1) * stream.count / 128

    let whole = decode([stream[...]], expectPreface: expectPreface, asBuffers: false)
    let pieces = decode([stream[..<split], stream[split...]], expectPreface: expectPreface, asBuffers: true)
    require(whole == pieces, "split at \(split) of \(stream.count) decodes differently")
    consume(whole.frames)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWireDecoder(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    fuzz(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

// MARK: - Seed corpus generator

/// `FuzzWireDecoder --generate-corpus=DIR` writes the seed inputs into DIR and exits; `--dump=FILE` prints what an
/// input decodes to and exits (libFuzzer leaves `--` flags to the target). The seeds are made with the real encoder,
/// so they stay valid as the format evolves.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzWireDecoderInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let prefix = "--generate-corpus="
    for index in 0..<Int(argc.pointee) {
        guard let pointer = argv.pointee?[index] else { continue }
        let argument = String(cString: pointer)
        if argument.hasPrefix(prefix) {
            exit(writeSeeds(to: String(argument.dropFirst(prefix.count))) ? 0 : 1)
        }
        if argument.hasPrefix("--dump=") {
            exit(dump(String(argument.dropFirst("--dump=".count))) ? 0 : 1)
        }
    }
    return 0
}

/// Control bytes: bit 0 set means bare frames; the rest picks the split point.
private let connectionStart: UInt8 = 0x80  // preface expected, split in the middle
private let bareFrames: UInt8 = 0x81  // bare frames, split in the middle

private func seeds() -> [(name: String, control: UInt8, stream: ByteBuffer)] {
    var result: [(name: String, control: UInt8, stream: ByteBuffer)] = []
    func add(_ name: String, _ control: UInt8, _ build: (inout ByteBuffer) -> Void) {
        var buffer = ByteBuffer()
        build(&buffer)
        result.append((name, control, buffer))
    }
    func connection(_ buffer: inout ByteBuffer) {
        FrameEncoder.writePreface(into: &buffer)
        FrameEncoder.write(.settings(Settings(limits: limits)), into: &buffer)
    }
    let compressor = MessageCompressor()
    let text = ByteBuffer(string: String(repeating: "deadline budget ", count: 8))

    add("preface-settings", connectionStart) { connection(&$0) }
    add("preface-settings-custom", 0x20) { buffer in
        FrameEncoder.writePreface(into: &buffer)
        let settings = Settings(
            maxFrameSize: 1024,
            maxConcurrentStreams: 0,
            initialStreamCredit: 0x7FFF_FFFF,
            maxMessageSize: 0,
            maxMetadataSize: 0,
            maxMetadataEntries: 65535,
            acceptedEncodings: 0xFFFF_FFFF
        )
        FrameEncoder.write(.settings(settings), into: &buffer)
    }
    add("unary-call", connectionStart) { buffer in
        connection(&buffer)
        let metadata: Metadata = ["tenant": "acme", "trace-bin": .binary([0, 1, 0xFF])]
        let budget = WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: 1_000_000)
        FrameEncoder.write(
            .callStart(CallStart(streamID: 1, method: "echo.Echo/Get", budget: budget, hopCount: 2, metadata: metadata)),
            into: &buffer
        )
        FrameEncoder.write(.message(.whole(streamID: 1, ByteBuffer(string: "hello"), endStream: true)), into: &buffer)
        FrameEncoder.write(.halfClose(streamID: 1), into: &buffer)
        FrameEncoder.write(.callEnd(CallEnd(streamID: 1, status: .ok)), into: &buffer)
    }
    add("call-start-no-deadline", bareFrames) { buffer in
        FrameEncoder.write(.callStart(CallStart(streamID: 3, method: "a/b", encoding: .deflate)), into: &buffer)
    }
    add("split-message", 0x41) { buffer in
        var message = ByteBuffer()
        message.writeRepeatingByte(0x5A, count: 2500)
        FrameEncoder.writeMessage(streamID: 5, message: message, endStream: true, maxFrameSize: 1024, into: &buffer)
    }
    for (name, encoding, streamID) in [("gzip-message", MessageEncoding.gzip, UInt32(1)), ("deflate-message", .deflate, 3)] {
        add(name, bareFrames) { buffer in
            FrameEncoder.write(.callStart(CallStart(streamID: streamID, method: "z/z", encoding: encoding)), into: &buffer)
            let packed = try! compressor.compress(text, encoding: encoding)
            FrameEncoder.write(.message(.whole(streamID: streamID, packed, compressed: true)), into: &buffer)
        }
    }
    add("gzip-bomb", bareFrames) { buffer in
        // 256 KiB of zeros in a few hundred bytes: inflates past the 64 KiB limit.
        var zeros = ByteBuffer()
        zeros.writeRepeatingByte(0, count: 256 * 1024)
        let packed = try! compressor.compress(zeros, encoding: .gzip)
        FrameEncoder.write(.callStart(CallStart(streamID: 7, method: "z/z", encoding: .gzip)), into: &buffer)
        FrameEncoder.write(.message(.whole(streamID: 7, packed, compressed: true)), into: &buffer)
    }
    add("call-end-error", bareFrames) { buffer in
        let trailers: Metadata = ["retry-after": "5", "detail-bin": .binary(Array("é".utf8))]
        let end = CallEnd(streamID: 9, status: .deadlineExceeded, message: "budget spent: 250 ms ⏱", metadata: trailers)
        FrameEncoder.write(.callEnd(end), into: &buffer)
    }
    add("cancel-credit-ping", 0x11) { buffer in
        FrameEncoder.write(.cancel(streamID: 11, reason: .deadlineExceeded), into: &buffer)
        FrameEncoder.write(.credit(streamID: 13, bytes: 65_536), into: &buffer)
        FrameEncoder.write(.ping(PingFrame(payload: 0x0102_0304_0506_0708, ack: false)), into: &buffer)
        FrameEncoder.write(.ping(PingFrame(payload: 0x0102_0304_0506_0708, ack: true)), into: &buffer)
    }
    add("goaway", connectionStart) { buffer in
        connection(&buffer)
        FrameEncoder.write(.goAway(GoAway(lastStreamID: 41, code: .noError, reason: "shutting down")), into: &buffer)
    }
    add("over-long-reasons", bareFrames) { buffer in
        // Longer than a sender writes (WireLimits.maxReasonLength) but accepted by a receiver; written by hand
        // because the encoder would cut them. The multi-byte characters straddle the 4096-byte cut.
        let message = Array(String(repeating: "x", count: 4094).utf8) + Array("é€😀".utf8)
        FrameEncoder.writeHeader(length: UInt32(3 + message.count + 6), type: .callEnd, flags: 0, streamID: 15, into: &buffer)
        buffer.writeInteger(StatusCode.internal.rawValue)
        buffer.writeInteger(UInt16(message.count), endianness: .big)
        buffer.writeBytes(message)
        buffer.writeMultipleIntegers(UInt32(0), UInt16(0), endianness: .big)  // empty metadata block
        let reason = [UInt8](repeating: 0xFF, count: 1400) + Array("bye".utf8)  // invalid UTF-8: replaced on receipt
        FrameEncoder.writeHeader(length: UInt32(10 + reason.count), type: .goAway, flags: 0, streamID: 0, into: &buffer)
        buffer.writeMultipleIntegers(UInt32(15), GoAwayCode.noError.rawValue, UInt16(reason.count), endianness: .big)
        buffer.writeBytes(reason)
    }
    add("unknown-type-and-flags", bareFrames) { buffer in
        FrameEncoder.writeHeader(length: 3, type: FrameType(rawValue: 0x42), flags: 0xFF, streamID: 1, into: &buffer)
        buffer.writeBytes([1, 2, 3])
        FrameEncoder.writeHeader(length: 0, type: .halfClose, flags: 0xF0, streamID: 1, into: &buffer)
    }
    return result
}

private func writeSeeds(to directory: String) -> Bool {
    for seed in seeds() {
        let path = "\(directory)/\(seed.name)"
        guard FuzzFiles.write([seed.control] + Array(seed.stream.readableBytesView), to: path) else { return false }
        print("\(path): \(1 + seed.stream.readableBytes) bytes")
    }
    return true
}

/// Prints the decode of one input file, then runs it through the target.
private func dump(_ path: String) -> Bool {
    guard let bytes = FuzzFiles.read(path) else { return false }
    guard let control = bytes.first else { return true }
    let stream = bytes.dropFirst()
    let run = decode([stream], expectPreface: control & 1 == 0, asBuffers: false)
    print("\(path): \(bytes.count) bytes, \(control & 1 == 0 ? "connection start" : "bare frames")")
    for frame in run.frames { print("  \(frame)") }
    print("  -> \(run.error.map { "error: \($0)" } ?? "needs more bytes")")
    bytes.withUnsafeBytes { fuzz($0) }
    return true
}
