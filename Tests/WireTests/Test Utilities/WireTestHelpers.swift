import NIOCore
import Testing

@testable import Wire

// Shared builders and assertions for the Wire tests. Raw builders write bytes the encoder never would, so the
// decoder's checks can be reached one at a time.

/// Big-endian bytes of an integer.
func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

/// Builds frames byte by byte.
enum RawFrame {
    /// A 10-byte frame header.
    static func header(length: UInt32, type: UInt8, flags: UInt8 = 0, streamID: UInt32) -> [UInt8] {
        bigEndian(length) + [type, flags] + bigEndian(streamID)
    }

    /// A header (with the payload's length) followed by the payload.
    static func frame(type: UInt8, flags: UInt8 = 0, streamID: UInt32, payload: [UInt8]) -> [UInt8] {
        header(length: UInt32(payload.count), type: type, flags: flags, streamID: streamID) + payload
    }

    /// A header (with the payload's length) followed by the payload.
    static func frame(_ type: FrameType, flags: UInt8 = 0, streamID: UInt32, payload: [UInt8]) -> [UInt8] {
        frame(type: type.rawValue, flags: flags, streamID: streamID, payload: payload)
    }

    /// A metadata block from raw entries, with its length and count computed (or overridden).
    static func metadataBlock(
        _ entries: [(key: [UInt8], value: [UInt8])],
        declaredLength: UInt32? = nil,
        declaredCount: UInt16? = nil
    ) -> [UInt8] {
        var body: [UInt8] = []
        for entry in entries {
            body += [UInt8(entry.key.count)] + entry.key + bigEndian(UInt16(entry.value.count)) + entry.value
        }
        return bigEndian(declaredLength ?? UInt32(body.count)) + bigEndian(declaredCount ?? UInt16(entries.count))
            + body
    }

    /// A `CALL_START` payload from its parts.
    static func callStartPayload(
        budget: (Int64, Int64)? = nil,
        hops: UInt8 = 0,
        encoding: UInt8 = 0,
        method: [UInt8] = Array("echo.Echo/Get".utf8),
        methodLength: UInt16? = nil,
        metadata: [UInt8] = metadataBlock([])
    ) -> [UInt8] {
        var payload: [UInt8] = []
        if let budget { payload += bigEndian(budget.0) + bigEndian(budget.1) }
        payload += [hops, encoding] + bigEndian(methodLength ?? UInt16(method.count)) + method
        return payload + metadata
    }

    /// A `CALL_END` payload from its parts.
    static func callEndPayload(
        status: UInt8 = 0,
        message: [UInt8] = [],
        messageLength: UInt16? = nil,
        metadata: [UInt8] = metadataBlock([])
    ) -> [UInt8] {
        [status] + bigEndian(messageLength ?? UInt16(message.count)) + message + metadata
    }

    /// A `SETTINGS` frame from raw (identifier, value) entries.
    static func settings(_ entries: [(UInt16, UInt32)], streamID: UInt32 = 0) -> [UInt8] {
        frame(.settings, streamID: streamID, payload: entries.flatMap { bigEndian($0.0) + bigEndian($0.1) })
    }
}

/// The preface bytes this implementation writes.
func prefaceBytes(version: UInt16 = Preface.version) -> [UInt8] {
    var buffer = ByteBuffer()
    Preface.write(into: &buffer, version: version)
    return Array(buffer.readableBytesView)
}

/// The bytes of frames written by `FrameEncoder`.
func encoded(_ frames: Frame...) -> [UInt8] {
    encoded(frames)
}

/// The bytes of frames written by `FrameEncoder`.
func encoded(_ frames: [Frame]) -> [UInt8] {
    var buffer = ByteBuffer()
    for frame in frames { FrameEncoder.write(frame, into: &buffer) }
    return Array(buffer.readableBytesView)
}

/// Preface, then `SETTINGS`, then `rest`: what a peer sends first on a connection.
func connectionStart(settings: Settings = .default) -> [UInt8] {
    prefaceBytes() + encoded(.settings(settings))
}

/// A `ByteBuffer` holding `bytes`.
func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

/// A buffer of `count` bytes following a fixed, non-repeating-looking pattern.
func patternBuffer(count: Int, seed: UInt8 = 0) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
        for index in 0..<count {
            bytes[index] = UInt8(truncatingIfNeeded: index &* 31 &+ index >> 8 &+ Int(seed))
        }
        return count
    }
    return buffer
}

extension FrameDecoder {
    /// Decodes every complete frame buffered.
    mutating func drain() throws(WireError) -> [DecodedFrame] {
        var frames: [DecodedFrame] = []
        while let frame = try self.nextFrame() { frames.append(frame) }
        return frames
    }

    /// A decoder past the preface and the peer's settings, ready for stream frames.
    static func ready(limits: WireLimits = .default) throws(WireError) -> FrameDecoder {
        var decoder = FrameDecoder(limits: limits)
        decoder.append(contentsOf: connectionStart())
        let first = try decoder.nextFrame()
        guard case .frame(.settings) = first else {
            throw WireError(.protocolViolation, "test setup: expected settings, got \(String(describing: first))")
        }
        return decoder
    }
}

/// Decodes `bytes` with a fresh decoder and returns every frame; throws what the decoder throws.
func decodeAll(_ bytes: [UInt8], limits: WireLimits = .default, expectPreface: Bool = false) throws(WireError)
    -> [DecodedFrame]
{
    var decoder = FrameDecoder(limits: limits, expectPreface: expectPreface)
    decoder.append(contentsOf: bytes)
    return try decoder.drain()
}

/// Runs `body`, expecting it to throw a `WireError` with `code`; returns the error.
@discardableResult
func expectWireError<R>(
    _ code: WireError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> WireError? {
    do {
        let value = try body()
        Issue.record("Expected WireError '\(code)', got a result: \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as WireError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("Expected WireError '\(code)', got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Expects `decoded` to be a stream error on `streamID` for a frame of `type` with `code`; returns the error.
@discardableResult
func expectStreamError(
    _ decoded: DecodedFrame?,
    streamID: UInt32,
    type: FrameType,
    code: WireError.Code,
    sourceLocation: SourceLocation = #_sourceLocation
) -> WireError? {
    guard case .streamError(let id, let frameType, let error) = decoded else {
        Issue.record("Expected a stream error '\(code)', got \(String(describing: decoded))", sourceLocation: sourceLocation)
        return nil
    }
    #expect(id == streamID, sourceLocation: sourceLocation)
    #expect(frameType == type, sourceLocation: sourceLocation)
    #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
    #expect(!error.isConnectionError, sourceLocation: sourceLocation)
    #expect(error.statusCode != nil, sourceLocation: sourceLocation)
    return error
}

/// A small deterministic generator, so randomised tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` random bytes from a seeded generator.
func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    return [UInt8](unsafeUninitializedCapacity: count) { bytes, initialized in
        var index = 0
        while index < count {
            var word = generator.next()
            for _ in 0..<min(8, count - index) {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        initialized = count
    }
}
