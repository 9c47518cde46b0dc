import NIOCore
import Wire

// Measures Wire's encode and decode cost per operation; prints one line per case.
// Usage: wire-bench [seconds-per-case]

let secondsPerCase = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 2 : 2

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }


let allocator = ByteBufferAllocator()
let small = ByteBuffer(repeating: 0x61, count: 64)
let metadata: Metadata = ["tenant": "acme", "request-id": "42"]
let start = CallStart(
    streamID: 1,
    method: "echo.Echo/Get",
    budget: WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: 250_000),
    metadata: metadata
)
let end = CallEnd(streamID: 1, status: .ok)

var smallCall = allocator.buffer(capacity: 256)
FrameEncoder.write(.callStart(start), into: &smallCall)
FrameEncoder.write(.message(.whole(streamID: 1, small, endStream: true)), into: &smallCall)
FrameEncoder.write(.callEnd(end), into: &smallCall)

var scratch = allocator.buffer(capacity: 4096)

func report(_ line: String) { print(line) }

func formatLine(_ name: String, _ nsPerOp: Double, _ opsPerSecond: Double, _ mibPerSecond: Double) -> String {
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
    return pad(name, 46) + lpad(String(Int(nsPerOp.rounded())), 8) + " ns/op " + lpad(String(Int(opsPerSecond)), 11) + " ops/s "
        + lpad(String(Int(mibPerSecond)), 7) + " MiB/s"
}

func bench(_ name: String, bytesPerOp: Int, _ body: () -> Void) {
    for _ in 0..<1_000 { body() }
    let clock = ContinuousClock()
    var ops = 0
    let startTime = clock.now
    let deadline = startTime + .milliseconds(Int64(secondsPerCase * 1000))
    while clock.now < deadline {
        for _ in 0..<1_000 { body() }
        ops += 1_000
    }
    let elapsed = clock.now - startTime
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    report(formatLine(name, seconds * 1e9 / Double(ops), Double(ops) / seconds, Double(bytesPerOp * ops) / seconds / 1_048_576))
}

print("wire-bench: \(secondsPerCase) s per case; small call = CALL_START (250 ms budget, 2 metadata) + 64 B MESSAGE + CALL_END = \(smallCall.readableBytes) bytes")

bench("encode small call (3 frames)", bytesPerOp: smallCall.readableBytes) {
    scratch.clear()
    FrameEncoder.write(.callStart(start), into: &scratch)
    FrameEncoder.write(.message(.whole(streamID: 1, small, endStream: true)), into: &scratch)
    FrameEncoder.write(.callEnd(end), into: &scratch)
    blackHole(scratch.readableBytes)
}

bench("encode 64 B MESSAGE frame", bytesPerOp: 78) {
    scratch.clear()
    FrameEncoder.write(.message(.whole(streamID: 1, small, endStream: true)), into: &scratch)
    blackHole(scratch.readableBytes)
}

bench("decode small call (3 frames)", bytesPerOp: smallCall.readableBytes) {
    var decoder = FrameDecoder(expectPreface: false)
    decoder.append(smallCall)
    var count = 0
    while let frame = try! decoder.nextFrame() {
        blackHole(frame)
        count += 1
    }
    precondition(count == 3)
}

var messageOnly = allocator.buffer(capacity: 128)
FrameEncoder.write(.message(.whole(streamID: 1, small, endStream: true)), into: &messageOnly)
bench("decode 64 B MESSAGE frame", bytesPerOp: messageOnly.readableBytes) {
    var decoder = FrameDecoder(expectPreface: false)
    decoder.append(messageOnly)
    blackHole(try! decoder.nextFrame())
}

let mib = ByteBuffer(repeating: 0x42, count: 1 << 20)
var bigOut = allocator.buffer(capacity: (1 << 20) + 1024)
bench("encode 1 MiB message (16 KiB frames)", bytesPerOp: 1 << 20) {
    bigOut.clear()
    FrameEncoder.writeMessage(streamID: 1, message: mib, maxFrameSize: 16 * 1024, into: &bigOut)
    blackHole(bigOut.readableBytes)
}

var bigEncoded = allocator.buffer(capacity: (1 << 20) + 1024)
FrameEncoder.writeMessage(streamID: 1, message: mib, maxFrameSize: 16 * 1024, into: &bigEncoded)
bench("decode + reassemble 1 MiB message", bytesPerOp: 1 << 20) {
    var decoder = FrameDecoder(limits: WireLimits(), expectPreface: false)
    var assembler = MessageAssembler()
    decoder.append(bigEncoded)
    var done = false
    while let decoded = try! decoder.nextFrame() {
        if case .frame(.message(let frame)) = decoded, let message = try! assembler.receive(frame) {
            blackHole(message)
            done = true
        }
    }
    precondition(done)
}
