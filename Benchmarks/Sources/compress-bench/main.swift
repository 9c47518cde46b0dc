import ArgumentParser
import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The longest event-loop stall while big compressible messages go through DeadlineRPC with gzip: a probe task on
/// every loop of the group the server and client share runs every `--tick-us`, and the worst lateness of any tick
/// is the longest time something held that loop. Run once with `--threshold max` (every message compressed and
/// inflated on the loop, the path before issue #19) and once with the default threshold.
@main
struct CompressBench: AsyncParsableCommand {
    @Option(help: "Message size in bytes (request and response alike).") var size: Int = 4 * 1024 * 1024
    @Option(help: "Calls per shape.") var calls: Int = 20
    @Option(help: "Offload threshold in bytes, or 'max' (never offload: everything on the loop).") var threshold: String = "16384"
    @Option(help: "Probe period in microseconds.") var tickUs: Int = 200
    @Option(help: "Event loops shared by server and client.") var loops: Int = 2
    @Option(help: "gzip, deflate, or identity (no compression: the stalls the rest of the path and the machine cause).") var encoding: String = "gzip"
    @Option(help: "Which shapes to run, comma-separated: unary, bidi.") var shapes: String = "unary,bidi"
    @Option(help: "Append every interval whose loop CPU passed 0.5 ms to this file, one line each: shape, the loop's index (thread `NIO-ELT-…-#(index + 1)`), start and end (CLOCK_MONOTONIC ns), loop CPU (ns); for `perf record -k CLOCK_MONOTONIC` to find what ran in it.") var traceLong: String? = nil

    static let echo = Method<ByteBuffer, ByteBuffer>.raw("bench.Compress/Echo", kind: .unary)
    static let stream = Method<ByteBuffer, ByteBuffer>.raw("bench.Compress/Stream", kind: .bidirectional)

    func run() async throws {
        let offloadThreshold = self.threshold == "max" ? Int.max : Int(self.threshold)!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.loops)
        var router = Router()
        router.unary(Self.echo) { request, _ in request }
        router.bidirectional(Self.stream) { requests, responses, _ in
            for try await request in requests { try await responses.write(request) }
        }
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.compressionOffloadThreshold = offloadThreshold
        serverConfiguration.limits.maxMessageSize = max(self.size + 1024, WireLimits.default.maxMessageSize)
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: serverConfiguration, eventLoopGroup: group)
        let payload = Self.compressible(size: self.size)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            var clientConfiguration = RPCClient.Configuration()
            clientConfiguration.compressionOffloadThreshold = offloadThreshold
            clientConfiguration.limits.maxMessageSize = serverConfiguration.limits.maxMessageSize
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: clientConfiguration, eventLoopGroup: group)
            let encoding: MessageEncoding = switch self.encoding {
            case "identity": .identity
            case "deflate": .deflate
            default: .gzip
            }
            let options = CallOptions(timeout: .seconds(60), compression: encoding)
            // Warm up: connection, zlib state, allocator.
            _ = try await client.unary(Self.echo, payload, options: options)

            print("compress-bench: \(self.size) B compressible messages, \(encoding), threshold \(self.threshold), \(self.loops) loops, probe every \(self.tickUs) µs, \(self.calls) calls per shape")
            for shape in ["unary", "bidi"] where self.shapes.split(separator: ",").contains(Substring(shape)) {
                let probe = StallProbe(group: group, tick: .microseconds(Int64(self.tickUs)))
                let start = ContinuousClock.now
                if shape == "unary" {
                    for _ in 0..<self.calls {
                        let reply = try await client.unary(Self.echo, payload, options: options)
                        precondition(reply == payload, "echo mismatch")
                    }
                } else {
                    let calls = self.calls
                    let replies = try await client.bidirectional(Self.stream, options: options) { requests in
                        for _ in 0..<calls { try await requests.write(payload) }
                    } responses: { responses in
                        var count = 0
                        for try await reply in responses {
                            precondition(reply == payload, "echo mismatch")
                            count += 1
                        }
                        return count
                    }
                    precondition(replies == calls, "\(replies) replies to \(calls) requests")
                }
                let elapsed = ContinuousClock.now - start
                let stalls = await probe.stop()
                if let path = self.traceLong { probe.appendLongIntervals(to: path, shape: shape) }
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                print("  \(shape): longest loop stall \(Self.fixed(stalls.max, 2)) ms, p99 tick lateness \(Self.fixed(stalls.p99, 3)) ms, longest loop CPU between ticks \(Self.fixed(stalls.busyMax, 2)) ms (next \(stalls.busyNext.map { Self.fixed($0, 2) }.joined(separator: " ")); intervals over 0.5 / 1 ms: \(stalls.busyOverHalf) / \(stalls.busyOverOne) of \(stalls.intervals)), \(Self.fixed(Double(self.calls) / seconds, 1)) messages/s each way")
            }
            await client.close()
            server.beginGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await group.shutdownGracefully()
    }

    /// Text-like bytes from a small vocabulary: gzip takes it to about a quarter, at a realistic speed (repeating one
    /// byte would deflate far faster than real payloads).
    static func compressible(size: Int) -> ByteBuffer {
        let words = ["deadline", "cancel", "stream", "message", "credit", "frame", "budget", "hop", "server", "client",
                     "status", "metadata", "gzip", "loop", "handler", "{\"id\":", "\"value\":", "0.125", "true", "null"]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        while buffer.readableBytes < size {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let word = words[Int(state >> 59) % words.count]
            buffer.writeString(word)
            buffer.writeInteger(UInt8(ascii: (state >> 40) & 3 == 0 ? "\n" : " "))
        }
        buffer.moveWriterIndex(to: size)
        return buffer
    }
}

extension CompressBench {
    /// `value` with `digits` decimals, without Foundation.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale)
        var fraction = String(scaled % Int(scale))
        while fraction.count < digits { fraction = "0" + fraction }
        return digits == 0 ? "\(whole)" : "\(whole).\(fraction)"
    }
}

/// A repeating task on every loop; each tick records how late it ran. A loop held for `x` makes one tick about `x`
/// late, so the worst lateness is the longest stall.
final class StallProbe: Sendable {
    private let tasks: [(any EventLoop, RepeatedTask)]
    private let samples = Samples()

    struct Figures {
        var max: Double
        var p99: Double
        /// The most CPU the loop thread used between two ticks (ms): the longest the loop itself was busy.
        var busyMax: Double
        /// The next four largest loop-CPU intervals (ms), so one outlier is told from a pattern.
        var busyNext: [Double] = []
        /// Intervals whose loop CPU passed 0.5 ms, 1 ms; and how many there were in all.
        var busyOverHalf = 0, busyOverOne = 0, intervals = 0
    }

    static func threadCPUNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Every tick's lateness, in nanoseconds. Room for a million ticks is reserved up front: an array that grew
    /// while the probe ran would copy itself (megabytes, with page faults) on a loop, inside an interval it measures.
    final class Samples: Sendable {
        static let reserved = 1 << 20
        let values = Mutex<[Int64]>(Samples.empty())
        let busy = Mutex<[Int64]>(Samples.empty())
        /// Intervals over 0.5 ms of loop CPU (`--trace-long`).
        let long = Mutex<[LongInterval]>([])

        static func empty() -> [Int64] {
            var array: [Int64] = []
            array.reserveCapacity(Self.reserved)
            return array
        }

        init() {
            self.long.withLock { $0.reserveCapacity(4096) }
        }
    }

    /// One interval over 0.5 ms of loop CPU: the loop's index (its thread is named `NIO-ELT-…-#(index + 1)`), its
    /// start and end (CLOCK_MONOTONIC ns), and the loop thread's CPU in it (ns).
    struct LongInterval {
        var loop: Int
        var start: UInt64
        var end: UInt64
        var busy: UInt64
    }

    /// Appends the intervals over 0.5 ms of loop CPU to `path` (see `--trace-long`).
    func appendLongIntervals(to path: String, shape: String) {
        guard let file = fopen(path, "a") else { return }
        for interval in self.samples.long.withLock({ $0 }) {
            fputs("\(shape) \(interval.loop) \(interval.start) \(interval.end) \(interval.busy)\n", file)
        }
        fclose(file)
    }

    /// When one loop's probe last ran.
    final class LastTick: Sendable {
        private let value: Atomic<UInt64>

        init(_ start: NIODeadline) { self.value = Atomic(start.uptimeNanoseconds) }

        func swap(_ now: UInt64) -> UInt64 { self.value.exchange(now, ordering: .relaxed) }
    }

    init(group: MultiThreadedEventLoopGroup, tick: TimeAmount) {
        let samples = self.samples
        var tasks: [(any EventLoop, RepeatedTask)] = []
        for (index, loop) in group.makeIterator().enumerated() {
            let last = LastTick(NIODeadline.now())
            let lastCPU = LastTick(NIODeadline.uptimeNanoseconds(0))
            let task = loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
                let now = NIODeadline.now()
                // Fixed delay: the next tick is due `tick` after this one ran, so the gap beyond it is lateness.
                let previousTick = last.swap(now.uptimeNanoseconds)
                let late = now.uptimeNanoseconds &- previousTick &- UInt64(tick.nanoseconds)
                // The loop thread's own CPU time since the last tick: what the loop ran, without the time the OS
                // gave other threads (on a busy 2-core machine, lateness alone counts preemption as a stall).
                let cpu = Self.threadCPUNanoseconds()
                let previous = lastCPU.swap(cpu)
                let busy = previous == 0 ? 0 : cpu &- previous
                samples.values.withLock { $0.append(Int64(bitPattern: late)) }
                samples.busy.withLock { $0.append(Int64(bitPattern: busy)) }
                if busy > 500_000 {
                    let interval = LongInterval(loop: index, start: previousTick, end: now.uptimeNanoseconds, busy: busy)
                    samples.long.withLock { $0.append(interval) }
                }
            }
            tasks.append((loop, task))
        }
        self.tasks = tasks
    }

    func stop() async -> Figures {
        for (loop, task) in self.tasks {
            let promise = loop.makePromise(of: Void.self)
            task.cancel(promise: promise)
            try? await promise.futureResult.get()
        }
        var samples = self.samples.values.withLock { $0 }.map { max(0, $0) }
        samples.sort()
        let busyAll = self.samples.busy.withLock { $0 }.map { Double(max(0, $0)) / 1e6 }.sorted(by: >)
        let busy = busyAll.first ?? 0
        guard !samples.isEmpty else { return Figures(max: 0, p99: 0, busyMax: 0) }
        let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
        return Figures(
            max: Double(samples.last!) / 1e6, p99: Double(p99) / 1e6, busyMax: busy, busyNext: Array(busyAll.dropFirst().prefix(4)),
            busyOverHalf: busyAll.count { $0 > 0.5 }, busyOverOne: busyAll.count { $0 > 1 }, intervals: busyAll.count
        )
    }
}
