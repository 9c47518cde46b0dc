// libFuzzer target for DeadlineRPC's server connection: the decoder fuzz target extended to the connection state
// machine, handler tasks and timers, on an in-memory channel. Input format and invariants: ServerConnectionFuzzHarness.
// Build and run: FuzzTesting/README.md.

import FuzzSupport
import NIOCore
import Wire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libFuzzer's entry point: one input through the harness; a broken invariant traps so the input is saved.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServerConnection(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    let violations = ServerConnectionFuzzHarness.run(input)
    if !violations.isEmpty {
        fatalError("FuzzServerConnection: invariant broken: \(violations.joined(separator: "; "))")
    }
    return 0
}

/// Runs once before fuzzing: `--generate-corpus=DIR` writes the seeds and exits; `--dump=FILE` prints an input's
/// steps and the server's frames, runs it and exits.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzServerConnectionInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    // Any use of the embedded loop from another thread (a handler hop the harness did not expect) traps.
    setenv("SWIFTNIO_STRICT_EMBEDDED", "1", 1)
    for index in 0..<Int(argc.pointee) {
        guard let pointer = argv.pointee?[index] else { continue }
        let argument = String(cString: pointer)
        if argument.hasPrefix("--generate-corpus=") {
            exit(writeSeeds(to: String(argument.dropFirst("--generate-corpus=".count))) ? 0 : 1)
        }
        if argument.hasPrefix("--dump=") {
            exit(dump(String(argument.dropFirst("--dump=".count))) ? 0 : 1)
        }
    }
    return 0
}

// MARK: - Seeds

/// Builds an input in the harness's record format.
struct Script {
    /// Flag bit 0: the harness sends preface and settings; bit 1: tight limits.
    static let handshake: UInt8 = 1
    static let tight: UInt8 = 2

    private(set) var bytes: [UInt8]

    init(flags: UInt8) { self.bytes = [flags] }

    /// Bytes from the peer, in reads of at most 8 KiB.
    mutating func send(_ buffer: ByteBuffer) {
        var rest = Array(buffer.readableBytesView)[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(8192)
            rest = rest.dropFirst(chunk.count)
            let length = chunk.count - 1
            self.bytes += [UInt8(length / 256) << 3, UInt8(length % 256)] + chunk
        }
    }

    mutating func send(_ frames: Frame...) {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, into: &buffer) }
        self.send(buffer)
    }

    mutating func runLoop() { self.bytes.append(3) }
    /// Advances the clock by `ServerConnectionFuzzHarness.delays[index]`.
    mutating func advance(_ index: Int) { self.bytes.append(UInt8(index << 3) | 4) }
    mutating func flipWritability() { self.bytes.append(5) }
    mutating func releaseStragglers() { self.bytes.append(6) }
    mutating func readRequest() { self.bytes.append(1 << 3 | 6) }
    mutating func gracefulShutdown() { self.bytes.append(2 << 3 | 6) }
    mutating func ioError() { self.bytes.append(3 << 3 | 6) }
    mutating func hangUp() { self.bytes.append(7) }
}

private func call(_ id: UInt32, _ method: String, budgetMs: Int64? = nil, encoding: MessageEncoding = .identity) -> Frame {
    .callStart(
        CallStart(
            streamID: id,
            method: method,
            budget: budgetMs.map { WireBudget(remainingMicroseconds: $0 * 1000, originalMicroseconds: 0) },
            encoding: encoding
        )
    )
}

private func message(_ id: UInt32, _ text: String, end: Bool = false) -> Frame {
    .message(.whole(streamID: id, ByteBuffer(string: text), endStream: end))
}

private func seeds() -> [(name: String, script: Script)] {
    var result: [(String, Script)] = []
    func add(_ name: String, flags: UInt8 = Script.handshake, _ build: (inout Script) -> Void) {
        var script = Script(flags: flags)
        build(&script)
        result.append((name, script))
    }
    let tight = Script.handshake | Script.tight

    add("handshake-by-input", flags: 0) { script in
        var hello = ByteBuffer()
        FrameEncoder.writePreface(into: &hello)
        FrameEncoder.write(.settings(Settings(maxFrameSize: 2048, initialStreamCredit: 100)), into: &hello)
        script.send(hello)
        script.send(call(1, "f/E"), message(1, "\u{3}hi", end: true))
        script.runLoop()
    }
    add("preface-timeout", flags: 0) { script in
        var partial = ByteBuffer()
        FrameEncoder.writePreface(into: &partial)
        script.send(partial.getSlice(at: 0, length: 3)!)
        script.advance(12)  // 10 s
    }
    add("unary-echo") { script in
        script.send(call(1, "f/E", budgetMs: 1000), message(1, "\u{2}echo", end: true))
        script.runLoop()
        script.send(call(3, "f/E"), message(3, "again", end: true), .ping(PingFrame(payload: 7, ack: false)))
        script.runLoop()
    }
    add("wait-deadline") { script in
        script.send(call(1, "f/W", budgetMs: 50), message(1, "w", end: true))
        script.runLoop()
        script.advance(5)  // 100 ms
        script.runLoop()
    }
    add("wait-cancel") { script in
        script.send(call(1, "f/W"), message(1, "w", end: true))
        script.runLoop()
        script.send(.cancel(streamID: 1, reason: .cancelled))
        script.runLoop()
    }
    add("straggler") { script in
        script.send(call(1, "f/S", budgetMs: 5), message(1, "s", end: true))
        script.runLoop()
        script.advance(3)  // 10 ms: deadline
        script.advance(7)  // 251 ms: past the straggler grace
        script.releaseStragglers()
        script.runLoop()
    }
    add("flood-credit", flags: tight) { script in
        script.send(call(1, "f/F"), message(1, "\u{40}0123456789abcdef", end: true))
        script.runLoop()
        script.send(.credit(streamID: 1, bytes: 100), .credit(streamID: 1, bytes: 1000))
        script.flipWritability()
        script.runLoop()
        script.flipWritability()
        script.runLoop()
    }
    add("client-stream-count") { script in
        script.send(call(1, "f/C"), message(1, "a"), message(1, "b"), message(1, "c"))
        script.runLoop()
        script.send(.halfClose(streamID: 1))
        script.runLoop()
    }
    add("bidi-chat") { script in
        script.send(call(1, "f/B", budgetMs: 2000), message(1, "one"))
        script.runLoop()
        script.send(message(1, "two"))
        script.runLoop()
        script.send(message(1, "three", end: true))
        script.runLoop()
    }
    add("fail-with-trailers") { script in
        script.send(call(1, "f/X"), message(1, "x", end: true))
        script.runLoop()
    }
    add("drain-midcall") { script in
        script.send(call(1, "f/W"), message(1, "w", end: true), call(3, "f/E"))
        script.runLoop()
        script.gracefulShutdown()
        script.send(message(3, "late", end: true), call(5, "f/E"))
        script.runLoop()
        script.advance(13)  // 31 s: past the drain timeout
    }
    add("stream-limit", flags: tight) { script in
        script.send(call(1, "f/W"), message(1, "w", end: true), call(3, "f/S"), message(3, "s", end: true))
        script.send(call(5, "f/E"), message(5, "refused", end: true))
        script.runLoop()
        script.send(.cancel(streamID: 1, reason: .cancelled), .cancel(streamID: 3, reason: .cancelled))
        script.send(call(7, "f/E"), message(7, "waits for a slot", end: true))
        script.runLoop()
        script.advance(3)
        script.releaseStragglers()
        script.runLoop()
    }
    add("gzip-echo") { script in
        let packed = try! MessageCompressor().compress(ByteBuffer(string: String(repeating: "budget ", count: 40)), encoding: .gzip)
        script.send(call(1, "f/E", encoding: .gzip), .message(.whole(streamID: 1, packed, endStream: true, compressed: true)))
        script.runLoop()
    }
    add("split-message", flags: tight) { script in
        var body = ByteBuffer()
        body.writeRepeatingByte(0x5A, count: 1500)
        var frames = ByteBuffer()
        FrameEncoder.write(call(1, "f/E"), into: &frames)
        FrameEncoder.writeMessage(streamID: 1, message: body, endStream: true, maxFrameSize: 1024, into: &frames)
        script.send(frames)
        script.runLoop()
    }
    add("ping-flood-unwritable", flags: tight) { script in
        script.flipWritability()
        for payload in 0..<8 { script.send(.ping(PingFrame(payload: UInt64(payload), ack: false))) }
        script.runLoop()
    }
    add("glitch-flood", flags: tight) { script in
        var junk = ByteBuffer()
        for _ in 0..<10 {
            FrameEncoder.writeHeader(length: 1, type: FrameType(rawValue: 0x42), flags: 0, streamID: 0, into: &junk)
            junk.writeInteger(UInt8(0))
        }
        script.send(junk)
        script.runLoop()
    }
    add("idle-timeout") { script in
        script.send(call(1, "f/E"), message(1, "e", end: true))
        script.runLoop()
        script.advance(14)  // 301 s
    }
    add("never-opened-stream") { script in
        script.send(message(9, "who?", end: true))
        script.runLoop()
    }
    add("hang-up-midcall") { script in
        script.send(call(1, "f/W"), message(1, "w", end: true), call(3, "f/S"), message(3, "s", end: true))
        script.send(call(5, "f/C"), message(5, "partial"))
        script.runLoop()
        script.hangUp()
        script.advance(9)
    }
    add("io-error-midcall") { script in
        script.send(call(1, "f/B"), message(1, "b"))
        script.runLoop()
        script.ioError()
        script.runLoop()
    }
    add("rapid-reset", flags: tight) { script in
        for index in 0..<12 {
            let id = UInt32(2 * index + 1)
            script.send(call(id, index % 2 == 0 ? "f/S" : "f/W"), message(id, "r", end: true), .cancel(streamID: id, reason: .cancelled))
        }
        script.runLoop()
        script.advance(7)
        script.releaseStragglers()
        script.readRequest()
        script.runLoop()
    }
    return result
}

private func writeSeeds(to directory: String) -> Bool {
    for (name, script) in seeds() {
        let path = "\(directory)/\(name)"
        guard FuzzFiles.write(script.bytes, to: path) else { return false }
        let violations = ServerConnectionFuzzHarness.run(script.bytes)
        print("\(path): \(script.bytes.count) bytes\(violations.isEmpty ? "" : " BROKE: \(violations)")")
    }
    return true
}

/// Prints the records of one input, then runs it and prints what broke.
private func dump(_ path: String) -> Bool {
    guard let bytes = FuzzFiles.read(path) else { return false }
    guard let flags = bytes.first else { return true }
    print("\(path): \(bytes.count) bytes, handshake by harness: \(flags & 1 != 0), tight limits: \(flags & 2 != 0)")
    for step in ServerConnectionFuzzHarness.steps(bytes) {
        guard case .send(let chunk) = step else {
            print("  \(step)")
            continue
        }
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(contentsOf: chunk)
        var frames: [String] = []
        while let frame = try? decoder.nextFrame() { frames.append("\(frame)") }
        print("  \(step)\(frames.isEmpty ? "" : ": " + frames.joined(separator: ", "))")
    }
    let violations = ServerConnectionFuzzHarness.run(bytes) { frame in print("    server: \(frame)") }
    print(violations.isEmpty ? "  -> all invariants hold" : "  -> BROKE: \(violations)")
    return true
}
