import ArgumentParser
import BenchSupport
import DeadlineRPC
import Foundation
import NIOCore
import Synchronization

/// Memory per in-flight call: N unary calls held open at once on one connection (client and server in this
/// process), RSS measured before, while all N handlers are parked, and after they were all cancelled.
@main
struct InflightBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inflight-bench")

    @Option(help: "Calls held in flight at once.") var calls: Int = 10_000
    @Option(help: "Request payload bytes.") var payload: Int = 64
    @Option(help: "Rounds (the first pays for allocator growth; later ones show the steady state).") var rounds: Int = 3
    @Flag(help: "Put a pass-through interceptor on both sides (the calls then take the general path, not the unary fast path).")
    var interceptors = false
    @Option(help: "Before each held call, one unary call with this many request bytes (0 = none), the held calls then started one at a time: each held request arrives in a receive read of its own, filled by the bulk call (what a parked request pins).")
    var bulk: Int = 0
    @Flag(help: "Held requests go through a codec that decodes them into a small value (as protobuf or JSON would) instead of handing the handler the request's bytes.")
    var decoded = false
    /// Handlers run on the global executor, as on every DeadlineRPC server (never on the I/O loops).
    var executor: String { "global" }

    static let hold = Method<ByteBuffer, ByteBuffer>.raw("bench.Inflight/Hold", kind: .unary)
    static let ping = Method<ByteBuffer, ByteBuffer>.raw("bench.Inflight/Ping", kind: .unary)
    static let holdDecoded = Method<Int, ByteBuffer>(
        "bench.Inflight/HoldDecoded", kind: .unary, requestCodec: FirstByteCodec(), responseCodec: RawBytesCodec())

    func run() async throws {
        let parked = ParkingLot()
        var router = Router()
        router.unary(Self.hold) { request, _ in
            try await parked.park()
            return request
        }
        router.unary(Self.ping) { request, _ in request }
        router.unary(Self.holdDecoded) { request, _ in
            try await parked.park()
            return ByteBuffer(integer: UInt8(truncatingIfNeeded: request))
        }
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = self.calls + 100
        var clientConfiguration = RPCClient.Configuration()
        if self.interceptors {
            configuration.interceptors = [PassServer()]
            clientConfiguration.interceptors = [PassClient()]
        }
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: configuration)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: clientConfiguration)
            let payload = ByteBuffer(repeating: 0x61, count: self.payload)
            // Warm the connection and the code paths.
            for _ in 0..<100 { _ = try await client.unary(Self.ping, payload, options: CallOptions(timeout: .seconds(5))) }
            // What 10 000 bare tasks parked the same way cost, to tell the runtime's share from the tasks'.
            let bare = ParkingLot()
            let bareBefore = residentBytes()
            let bareTasks = Task {
                await withTaskGroup(of: Void.self) { tasks in
                    for _ in 0..<self.calls { tasks.addTask { try? await bare.park() } }
                }
            }
            while bare.count < self.calls { try await Task.sleep(for: .milliseconds(5)) }
            let bareHeld = residentBytes()
            bareTasks.cancel()
            await bareTasks.value
            print("calls=\(self.calls) payload=\(self.payload)B executor=\(self.executor) interceptors=\(self.interceptors) bulk=\(self.bulk)B decoded=\(self.decoded)")
            print("baseline: a bare parked task (no RPC) costs \((bareHeld - bareBefore) / self.calls) bytes")
            print("round | RSS before MiB | RSS with all in flight MiB | bytes per in-flight call | RSS after cancel MiB | cancel→all handlers returned ms")
            for round in 1...self.rounds {
                // Memory freed earlier (the bare tasks above, the previous round) stays resident in malloc's free
                // lists and would be reused by this round unseen, making the figure look smaller than what the calls
                // hold: hand it back to the kernel first, so the delta counts every byte this round's calls take.
                returnFreedMemory()
                let before = residentBytes()
                if round == 1 { censusMark() }
                let holders = Task {
                    await withTaskGroup(of: Void.self) { callers in
                        if self.bulk > 0 || self.decoded {
                            await self.holdOneAtATime(&callers, client: client, payload: payload, parked: parked)
                            return
                        }
                        for _ in 0..<self.calls {
                            callers.addTask {
                                _ = try? await client.unary(Self.hold, payload, options: CallOptions(timeout: .seconds(120)))
                            }
                        }
                    }
                }
                while parked.count < self.calls { try await Task.sleep(for: .milliseconds(5)) }
                let held = residentBytes()
                if round == 1 { censusDump(self.calls) }
                let cancelAt = ContinuousClock.now
                holders.cancel()
                await holders.value
                while server.stats.handlersInFlight > 0 { try await Task.sleep(for: .milliseconds(1)) }
                let drained = ContinuousClock.now - cancelAt
                let after = residentBytes()
                let perCall = (held - before) / self.calls
                print("\(round) | \(mib(before)) | \(mib(held)) | \(perCall) | \(mib(after)) | \(drained.components.seconds * 1000 + drained.components.attoseconds / 1_000_000_000_000_000)")
            }
            await client.close()
            server.beginGracefulShutdown()
        }
    }
}

extension InflightBench {
    /// Starts the held calls for `--bulk` and `--decoded`: each after one bulk call (with `--bulk`), and each once
    /// the one before it parked, so each held request arrives in a receive read of its own. Kept apart from the
    /// default path so that the default callers' tasks are the same size as before these options existed (a
    /// caller's task frame is part of the figure).
    func holdOneAtATime(_ callers: inout TaskGroup<Void>, client: RPCClient, payload: ByteBuffer, parked: ParkingLot) async {
        let bulkPayload = ByteBuffer(repeating: 0x62, count: self.bulk)
        for i in 0..<self.calls {
            if self.bulk > 0 {
                _ = try? await client.unary(Self.ping, bulkPayload, options: CallOptions(timeout: .seconds(5)))
            }
            if self.decoded {
                callers.addTask { _ = try? await client.unary(Self.holdDecoded, i, options: CallOptions(timeout: .seconds(120))) }
            } else {
                callers.addTask { _ = try? await client.unary(Self.hold, payload, options: CallOptions(timeout: .seconds(120))) }
            }
            while parked.count <= i && !Task.isCancelled { try? await Task.sleep(for: .microseconds(200)) }
        }
    }
}

/// A request that decodes into a small value: the first byte of `payload` bytes (the rest is padding), as a codec
/// such as protobuf's leaves nothing of the request's bytes in what it returns.
struct FirstByteCodec: MessageCodec {
    var payload = 64
    func encode(_ message: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(truncatingIfNeeded: message))
        buffer.writeRepeatingByte(0x61, count: self.payload - 1)
    }
    func decode(_ buffer: ByteBuffer) throws -> Int {
        Int(buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) ?? 0)
    }
}

/// Passes every call on: its presence selects the server's general (interceptor) path.
struct PassServer: ServerInterceptor {
    func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        try await next(context)
    }
}

/// Passes every call on: its presence selects the client's general (interceptor) path.
struct PassClient: ClientInterceptor {
    func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        try await next(call)
    }
}

/// Starts a live-allocation census when the `mhist` shim (Tools/mhist.c) is preloaded; a no-op otherwise.
func censusMark() {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mhist_mark") else { return }
    typealias Mark = @convention(c) () -> Void
    unsafeBitCast(symbol, to: Mark.self)()
}

/// Prints (to stderr) what the allocations made since `censusMark()` and still live weigh per call.
func censusDump(_ calls: Int) {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mhist_dump") else { return }
    typealias Dump = @convention(c) (Int) -> Void
    unsafeBitCast(symbol, to: Dump.self)(calls)
}

/// Returns freed heap memory in every malloc arena to the kernel (glibc's `malloc_trim`; a no-op elsewhere).
func returnFreedMemory() {
    // Found with `dlsym`: malloc.h is not in the Glibc module map.
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
    typealias Trim = @convention(c) (Int) -> Int32
    _ = unsafeBitCast(symbol, to: Trim.self)(0)
}

func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = status.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func mib(_ bytes: Int) -> String {
    String(format: "%.1f", Double(bytes) / 1_048_576)
}
