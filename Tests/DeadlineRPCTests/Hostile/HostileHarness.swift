@testable import DeadlineRPC
import Foundation
import NIOCore
import Synchronization
import TestSupport
import Testing
import Wire

/// Runs one hostile case: a server on 127.0.0.1, a well-behaved client calling it in a loop on its own
/// connection throughout (isolation), and `body` playing the hostile peer. Records the case's four figures
/// (boundary, detection time, memory growth, the well-behaved connection's p99) and expects the well-behaved
/// client to have seen no error at all. Cases that shut the whole server down pass `wellBehavedTraffic: false`.
func hostileCase(
    _ id: String,
    configuration: RPCServer.Configuration = RPCServer.Configuration(),
    wellBehavedTraffic: Bool = true,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @Sendable (HostileServer) async throws -> HostileOutcome
) async throws {
    let gauge = HandlerGauge()
    var configuration = configuration
    if configuration.drainTimeout == .seconds(30) { configuration.drainTimeout = .seconds(5) }  // keep teardown short
    let server = RPCServer(host: "127.0.0.1", port: 0, router: HostileServer.router(gauge: gauge), configuration: configuration)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let port = try await server.listeningAddress.port!
        let client = RPCClient(host: "127.0.0.1", port: port)
        let traffic = WellBehavedTraffic()
        if wellBehavedTraffic {
            group.addTask { await traffic.run(client) }
        } else {
            traffic.warmedUp.fire()
            traffic.finished.fire()
        }
        await traffic.warmedUp.wait()
        let memoryBefore = ProcessProbe.residentBytes
        let outcome: HostileOutcome
        do {
            outcome = try await body(HostileServer(server: server, port: port, gauge: gauge, wellBehavedClient: client))
        } catch {
            traffic.stop()
            await traffic.finished.wait()
            await client.close()
            server.beginGracefulShutdown()
            try? await group.waitForAll()
            throw error
        }
        let memoryAfter = ProcessProbe.residentBytes
        traffic.stop()
        await traffic.finished.wait()
        let (p99, calls, errors) = traffic.summary
        #expect(errors == 0, "the well-behaved connection saw \(errors) errors beside case \(id): \(traffic.errorDescriptions.prefix(3))", sourceLocation: sourceLocation)
        HostileFigures(
            caseID: id,
            outcome: outcome.outcome,
            boundary: outcome.boundary,
            detectionMs: outcome.detection.map(\.milliseconds),
            memoryGrowthKiB: (memoryAfter - memoryBefore) / 1024,
            wellBehavedP99Ms: p99.milliseconds,
            wellBehavedCalls: calls,
            wellBehavedErrors: errors
        ).record()
        await client.close()
        server.beginGracefulShutdown()
        try await group.waitForAll()
    }
}

/// What a hostile case's body reports: the outcome it asserted, the boundary, and the time to detection.
struct HostileOutcome: Sendable {
    /// The asserted outcome, e.g. `GOAWAY(FRAME_SIZE_ERROR), closed`.
    var outcome: String
    /// The exact boundary, e.g. `1000 accepted, 1001st → goaway`.
    var boundary: String
    /// From the first abusive byte to the server's verdict (goaway, status or close); nil when not applicable.
    var detection: Duration?
}

/// The server side of a hostile case.
struct HostileServer: Sendable {
    /// The server under attack.
    let server: RPCServer
    /// Its port on 127.0.0.1.
    let port: Int
    /// Handlers running now and at most, across the test router's methods.
    let gauge: HandlerGauge
    /// The well-behaved client (its connection is the one whose p99 is measured); a case may share it.
    let wellBehavedClient: RPCClient

    /// A hostile connection to the server (preface and settings sent unless `handshake` is false).
    func connect(handshake: Bool = true, autoRead: Bool = true, receiveBufferSize: Int? = nil) async throws -> RawConnection {
        try await RawConnection.connect(port: self.port, handshake: handshake, autoRead: autoRead, receiveBufferSize: receiveBufferSize)
    }

    /// The methods hostile peers call.
    enum Methods {
        /// Unary echo (JSON `Echo`).
        static let echo = TestMethods.echo
        /// Unary: runs until cancelled.
        static let wait = TestMethods.wait
        /// Client streaming: reads nothing, runs until cancelled (its request queue and credit stay full).
        static let hold = Method<Echo, Echo>.clientStreaming("test.Hostile/Hold")
        /// Server streaming: writes 1 KiB messages until cancelled, counting them.
        static let flood = Method<Echo, Echo>.serverStreaming("test.Hostile/Flood")
        /// Raw-bytes unary echo (no codec): sizes exactly as sent.
        static let raw = TestMethods.raw
        /// Unary: ignores cancellation for 100 ms (a straggler), then returns.
        static let stubborn = Method<Echo, Echo>.unary("test.Hostile/Stubborn")
        /// Client streaming: reads every request, answers with their count.
        static let count = Method<Echo, Echo>.clientStreaming("test.Hostile/Count")
    }

    /// The router every hostile case serves.
    static func router(gauge: HandlerGauge) -> Router {
        var router = Router()
        // Echo is the well-behaved client's method: not counted, so the gauge sees only the hostile peer's work.
        router.unary(Methods.echo) { request, _ in request }
        router.unary(Methods.wait) { request, _ in
            gauge.enter()
            defer { gauge.leave() }
            try await untilCancelled()
            return request
        }
        router.clientStreaming(Methods.hold) { _, _ in
            gauge.enter()
            defer { gauge.leave() }
            try await untilCancelled()
            return Echo(text: "never")
        }
        router.serverStreaming(Methods.flood) { _, writer, _ in
            gauge.enter()
            defer { gauge.leave() }
            let message = Echo(text: String(repeating: "x", count: 1024))
            while true {
                try await writer.write(message)
                gauge.wrote()
            }
        }
        router.unary(Methods.raw) { request, _ in request }
        router.unary(Methods.stubborn) { request, _ in
            gauge.enter()
            defer { gauge.leave() }
            let until = ContinuousClock.now + .milliseconds(100)
            while ContinuousClock.now < until { try? await Task.sleep(for: .milliseconds(10)) }
            return request
        }
        router.clientStreaming(Methods.count) { requests, _ in
            gauge.enter()
            defer { gauge.leave() }
            var count = 0
            for try await _ in requests { count += 1 }
            return Echo(text: "\(count)")
        }
        return router
    }
}

/// Counts the test router's handlers: running now, the most at once, and streamed messages written. A test awaits
/// a count of running handlers with ``waitUntil(running:timeout:sourceLocation:)``, woken at each change.
final class HandlerGauge: Sendable {
    private let current = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)
    private let waiters = CounterWaiters<Int>()

    init() {}

    /// A handler started.
    func enter() {
        let now = self.current.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
        self.waiters.changed { self.current.load(ordering: .sequentiallyConsistent) }
        var seen = self.peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = self.peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    /// A handler returned (normally, by throwing, or cancelled).
    func leave() {
        self.current.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        self.waiters.changed { self.current.load(ordering: .sequentiallyConsistent) }
    }

    /// A streaming handler's write returned.
    func wrote() { self.writes.wrappingAdd(1, ordering: .relaxed) }

    /// Handlers running now.
    var running: Int { self.current.load(ordering: .relaxed) }
    /// The most handlers that ever ran at once.
    var maxRunning: Int { self.peak.load(ordering: .relaxed) }
    /// Streamed messages whose write returned.
    var written: Int { self.writes.load(ordering: .relaxed) }

    /// Waits until exactly `count` handlers run, woken at each enter and leave. After `timeout` (generous: it only
    /// turns a would-be hang into a failure) it records an issue with the count as it is, and returns false.
    @discardableResult
    func waitUntil(running count: Int, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
        await awaitCondition("The handler gauge", timeout: timeout, sourceLocation: sourceLocation, now: { self.running }) {
            await self.waiters.wait(until: { $0 == count }) { self.current.load(ordering: .sequentiallyConsistent) }
        }
    }
}

/// A well-behaved client on its own connection, calling echo one call at a time until stopped; it measures
/// the isolation the server gives it from the hostile connection.
final class WellBehavedTraffic: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let results = Mutex<(latencies: [Duration], errors: [String])>(([], []))
    /// Fires after the first 20 calls (connection and code paths warm), or at once when traffic is off.
    let warmedUp = Signal()
    /// Fires when ``run(_:)`` returns.
    let finished = Signal()

    init() {}

    /// Calls until ``stop()``.
    func run(_ client: RPCClient) async {
        defer { self.finished.fire() }
        let clock = ContinuousClock()
        var count = 0
        while !self.stopped.load(ordering: .relaxed) {
            let start = clock.now
            do {
                _ = try await client.unary(TestMethods.echo, Echo(text: "calm"), options: CallOptions(timeout: .seconds(20)))
                let elapsed = clock.now - start
                self.results.withLock { $0.latencies.append(elapsed) }
            } catch {
                self.results.withLock { $0.errors.append("\(error)") }
            }
            count += 1
            if count == 20 { self.warmedUp.fire() }
        }
        self.warmedUp.fire()
    }

    /// Ends the loop after the call in flight.
    func stop() { self.stopped.store(true, ordering: .relaxed) }

    /// The errors seen, described.
    var errorDescriptions: [String] { self.results.withLock { $0.errors } }

    /// p99 latency, calls completed, errors.
    var summary: (p99: Duration, calls: Int, errors: Int) {
        self.results.withLock { results in
            let sorted = results.latencies.sorted()
            let p99 = sorted.isEmpty ? .zero : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            return (p99, sorted.count, results.errors.count)
        }
    }
}

/// One case's four figures, printed as a `HOSTILE-FIGURE {json}` line and appended to a JSON-lines file
/// (`$HOSTILE_FIGURES_FILE`, default `$TMPDIR/deadlinerpc-hostile-figures.jsonl`) for `docs/RELIABILITY.md`.
struct HostileFigures: Codable, Sendable {
    /// The HOSTILE.md case, e.g. `B4`.
    var caseID: String
    /// The outcome asserted.
    var outcome: String
    /// N accepted, N+1 rejected.
    var boundary: String
    /// First abusive byte → verdict, in ms.
    var detectionMs: Double?
    /// RSS growth of the test process across the case, in KiB (process-wide, untrimmed: includes the test's own
    /// buffers and freed memory the allocator kept).
    var memoryGrowthKiB: Int
    /// The concurrent well-behaved connection's p99, in ms.
    var wellBehavedP99Ms: Double
    /// Calls it completed.
    var wellBehavedCalls: Int
    /// Errors it saw (expected 0).
    var wellBehavedErrors: Int

    /// Prints and appends the line.
    func record() {
        guard let data = try? JSONEncoder().encode(self), let json = String(data: data, encoding: .utf8) else { return }
        print("HOSTILE-FIGURE \(json)")
        let path = ProcessInfo.processInfo.environment["HOSTILE_FIGURES_FILE"]
            ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("deadlinerpc-hostile-figures.jsonl")
        Self.lock.withLock { _ in
            if let handle = FileHandle(forWritingAtPath: path) {
                handle.seekToEndOfFile()
                handle.write(Data((json + "\n").utf8))
                try? handle.close()
            } else {
                _ = FileManager.default.createFile(atPath: path, contents: Data((json + "\n").utf8))
            }
        }
    }

    /// Serializes appends from parallel tests.
    private static let lock = Mutex(())
}

/// This process's resident memory and open file descriptors (Linux `/proc`; zero elsewhere).
enum ProcessProbe {
    /// Resident set size in bytes, after returning free heap to the system so readings compare memory in use.
    /// `malloc_trim` locks every malloc arena while it works, stalling every thread of the process (other suites'
    /// deadline tests failed on it), so only the soak, which runs alone, uses this.
    static var trimmedResidentBytes: Int {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: MallocTrim.self)(0) }
        #endif
        return Self.residentBytes
    }

    /// Resident set size in bytes, as the kernel reports it.
    static var residentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kib = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } ?? 0
            return kib * 1024
        }
        return 0
    }

    /// Open file descriptors of this process.
    static var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }
}

extension Duration {
    /// This duration in milliseconds, as a fraction.
    var milliseconds: Double {
        Double(self.components.seconds) * 1_000 + Double(self.components.attoseconds) / 1e15
    }
}

/// Suspends until the task is cancelled, then throws. Not `Task.sleep(for: .seconds(3600))`: a cancelled sleep
/// resumes at once, but the runtime keeps its timer job allocated until the deadline it was given, so every handler
/// cancelled in the kill soak left ~0.8 KiB live for an hour (measured: 25 MiB of live heap in a 2-minute soak).
func untilCancelled() async throws {
    let (never, continuation) = AsyncStream<Never>.makeStream()
    for await _ in never {}  // ends when the task is cancelled
    continuation.finish()
    throw CancellationError()
}

/// Encodes an `Echo` as the JSON bytes a request message carries.
func echoBytes(_ text: String = "x") -> [UInt8] {
    Array(try! JSONEncoder().encode(Echo(text: text)))
}

/// The root of the hostile-peer suites: serialized, so each case's figures (p99, memory) are not mixed with
/// another hostile case's load, and heavyweight, so no flood runs beside the demo's or the cascade's timed
/// multi-process tests. (Light suites may still run alongside.)
@Suite("Hostile peers (HOSTILE.md A–F)", .serialized, .heavyweight)
enum HostileTests {}

extension RawConnection {
    /// Reads until the connection closes and expects a goaway with `code` on the way; returns it and the time
    /// from `since` to the close.
    @discardableResult
    func expectGoAway(
        _ code: GoAwayCode,
        since: ContinuousClock.Instant,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> (goAway: GoAway?, callEnds: [CallEnd], detection: Duration) {
        let (goAway, ends, closed) = await self.awaitClose()
        let detection = ContinuousClock.now - since
        #expect(closed, "the server did not close the connection", sourceLocation: sourceLocation)
        #expect(goAway?.code == code, "expected GOAWAY(\(code)), got \(String(describing: goAway))", sourceLocation: sourceLocation)
        return (goAway, ends, detection)
    }

    /// Runs an echo call on `streamID` and expects `OK`: proof the connection survived.
    func expectEchoWorks(streamID: UInt32, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await self.send(RawFrames.unaryCall(streamID: streamID, method: TestMethods.echo.name, body: echoBytes("alive")))
        let end = await self.awaitCallEnd(streamID)
        #expect(end?.status == .ok, "the connection should survive; got \(String(describing: end))", sourceLocation: sourceLocation)
    }
}

/// A counter shared by concurrent tasks of a test.
final class SharedCounter: Sendable {
    private let count = Atomic<Int>(0)

    init() {}

    /// Adds one.
    func add() { self.count.wrappingAdd(1, ordering: .relaxed) }

    /// The count now.
    var value: Int { self.count.load(ordering: .relaxed) }
}
