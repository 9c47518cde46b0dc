import Foundation
import NIOCore
import Testing

@testable import Wire

/// Replays the fuzz target's seed corpus and every minimized crasher (`FuzzTesting/`) through the decoder, the
/// message assembler and the decompressor, the way `FuzzWireDecoder` does, so a fixed finding stays fixed without a
/// libFuzzer build. Errors are fine; a crash, or a split or round trip that changes the result, is not.
@Suite("Fuzz regressions", .timeLimit(.minutes(5)))
struct FuzzRegressionTests {
    /// `FuzzTesting/...` paths of every input, relative to the repository root.
    static let inputs: [String] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return ["FuzzTesting/FailCases/FuzzWireDecoder", "FuzzTesting/Corpus/FuzzWireDecoder"].flatMap { folder in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path))
            return (names ?? []).filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
        }
    }()

    @Test("The seed corpus is there")
    func corpusIsPresent() {
        #expect(Self.inputs.contains { $0.hasPrefix("FuzzTesting/Corpus/") })
    }

    @Test("Replays a fuzz input", arguments: Self.inputs)
    func replay(_ input: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let bytes = [UInt8](try Data(contentsOf: root.appendingPathComponent(input)))
        // Byte 0 is the harness's control byte: bit 0 picks bare frames, bits 1...7 the split point in 128ths.
        guard let control = bytes.first else { return }
        let stream = bytes.dropFirst()
        let expectPreface = control & 1 == 0
        let split = Int(control >> 1) * stream.count / 128

        let whole = Self.decode([stream], expectPreface: expectPreface)
        let pieces = Self.decode([stream.prefix(split), stream.dropFirst(split)], expectPreface: expectPreface)
        #expect(whole.frames == pieces.frames)
        #expect(whole.error == pieces.error)

        var assemblers: [UInt32: MessageAssembler] = [:]
        let compressor = MessageCompressor()
        for case .frame(let frame) in whole.frames {
            // Every decoded frame re-encodes to bytes that decode again.
            var buffer = ByteBuffer()
            if case .settings = frame { FrameEncoder.writePreface(into: &buffer) }
            FrameEncoder.write(frame, into: &buffer)
            var decoder = FrameDecoder(expectPreface: frame.type == .settings)
            decoder.append(buffer)
            #expect(try decoder.nextFrame()?.frame?.type == frame.type)

            guard case .message(let part) = frame else { continue }
            guard let message = try? assemblers[part.streamID, default: MessageAssembler()].receive(part) else { continue }
            if message.compressed {
                for encoding in [MessageEncoding.gzip, .deflate] {
                    let plain = try? compressor.decompress(message.bytes, encoding: encoding, maxSize: 64 * 1024)
                    #expect((plain?.readableBytes ?? 0) <= 64 * 1024)
                }
            }
        }
    }

    /// Feeds the chunks in order, pulling frames after each until the decoder needs more bytes or fails.
    static func decode(_ chunks: [ArraySlice<UInt8>], expectPreface: Bool) -> (frames: [DecodedFrame], error: WireError?) {
        var decoder = FrameDecoder(expectPreface: expectPreface)
        var frames: [DecodedFrame] = []
        do {
            for chunk in chunks {
                decoder.append(ByteBuffer(bytes: chunk))
                while let decoded = try decoder.nextFrame() { frames.append(decoded) }
            }
        } catch {
            return (frames, error)
        }
        return (frames, nil)
    }
}

extension DecodedFrame {
    fileprivate var frame: Frame? {
        if case .frame(let frame) = self { return frame }
        return nil
    }
}
