import ArgumentParser
import DeadlineRPC
import Histogram
import NIOCore
import NIOPosix
import Synchronization
import ThrowawayPKI

#if canImport(Glibc)
import Glibc
#endif

/// Unary 64-byte echo over DeadlineRPC with the load shapes of ../shared/peers (closed loop with N callers, or open
/// loop at a fixed rate timed from the intended send time), so the figures sit beside the peers' in one sitting.
@main
struct EchoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "echo-bench")

    @Option(help: "server | client | both") var role: String = "both"
    @Option var host: String = "127.0.0.1"
    @Option var port: Int = 0
    @Option(help: "Closed loop: concurrent callers.") var concurrency: Int = 1
    @Option(help: "Open loop: calls per second (0 = closed loop).") var rate: Int = 0
    @Option(help: "Open loop: most calls in flight.") var maxInflight: Int = 10_000
    @Option var payload: Int = 64
    @Option var warmup: Double = 2
    @Option var duration: Double = 10
    @Option(help: "Every call carries this deadline (ms); 0 = none.") var deadlineMs: Int = 1000
    @Option(help: "Endpoints in the client's target: N > 1 lists the server N times (N connections, the balancer picks per call); 1 is the single-endpoint path.") var endpoints: Int = 1
    @Option(help: "With --endpoints > 1: least-loaded | round-robin | pick-first.") var balancing: String = "least-loaded"
    @Flag(help: "TLS (with --role both): a throwaway CA and server certificate made at start; the client verifies the chain and the name echo-bench.bench.test.") var tls = false
    /// An experiment, not a setting DeadlineRPC recommends: every task, handlers and callers included, then runs on
    /// the I/O loops beside the runtime's timers (docs/PERFORMANCE.md, session 11).
    @Flag(help: "Experiment: install NIO's event loops as Swift's global executor before anything runs.")
    var nioGlobalExecutor = false
    /// Handlers run on the global executor, as on every DeadlineRPC server (never on the I/O loops).
    var executor: String { "global" }

    static let echo = Method<ByteBuffer, ByteBuffer>.raw("bench.Echo/Get", kind: .unary)

    /// The name the server's certificate carries and the client checks under `--tls`.
    static let serverName = "echo-bench.bench.test"

    func validate() throws {
        if self.tls && self.role != "both" {
            throw ValidationError("--tls makes its CA in this process, so it goes with --role both")
        }
    }

    func run() async throws {
        if self.nioGlobalExecutor {
            precondition(NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor())
        }
        var router = Router()
        router.unary(Self.echo) { request, _ in request }
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = 100_000
        var clientSecurity = ClientTransportSecurity.plaintext
        if self.tls {
            let ca = try ThrowawayCA(name: "echo-bench throwaway CA")
            let server = try ca.issue(commonName: "echo-bench", dnsNames: [Self.serverName])
            configuration.transportSecurity = server.serverSecurity
            clientSecurity = server.clientSecurity(serverName: Self.serverName)
        }
        switch self.role {
        case "server":
            let server = RPCServer(host: self.host, port: self.port, router: router, configuration: configuration)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.run() }
                print("listening on \(try await server.listeningAddress.port!)")
            }
        case "client":
            try await self.drive(port: self.port)
        default:
            let server = RPCServer(host: self.host, port: self.port, router: router, configuration: configuration)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.run() }
                let port = try await server.listeningAddress.port!
                try await self.drive(port: port, security: clientSecurity)
                server.beginGracefulShutdown()
            }
        }
    }

    func drive(port: Int, security: ClientTransportSecurity = .plaintext) async throws {
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.transportSecurity = security
        switch self.balancing {
        case "round-robin": clientConfiguration.loadBalancing = .roundRobin
        case "pick-first": clientConfiguration.loadBalancing = .pickFirst
        default: clientConfiguration.loadBalancing = .leastLoaded
        }
        let target: Target = self.endpoints > 1
            ? .endpoints(Array(repeating: Endpoint(host: self.host, port: port), count: self.endpoints))
            : .host(self.host, port: port)
        let client = RPCClient(target: target, configuration: clientConfiguration)
        let payload = ByteBuffer(repeating: 0x61, count: self.payload)
        let options = CallOptions(timeout: self.deadlineMs > 0 ? .milliseconds(self.deadlineMs) : nil)
        let state = BenchState()
        let clock = ContinuousClock()
        let cpuStart = cpuSeconds()

        func record(_ start: ContinuousClock.Instant) {
            guard state.recording.load(ordering: .relaxed) else { return }
            let elapsed = clock.now - start
            let micros = UInt64(max(0, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
            state.histogram.withLock { _ = $0.record(micros) }
        }

        let phaseStart = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(self.warmup * 1000)))
                state.recording.store(true, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(Int64(self.duration * 1000)))
                state.stop.store(true, ordering: .relaxed)
            }
            if self.rate == 0 {
                for _ in 0..<self.concurrency {
                    group.addTask {
                        while !state.stop.load(ordering: .relaxed) {
                            let start = clock.now
                            do {
                                _ = try await client.unary(Self.echo, payload, options: options)
                                record(start)
                            } catch {
                                if state.recording.load(ordering: .relaxed) { state.errors.add(1, ordering: .relaxed) }
                            }
                        }
                    }
                }
            } else {
                // Open loop: the i-th call is due at start + i/rate; latency counts from that intended time.
                group.addTask {
                    try await withThrowingDiscardingTaskGroup { calls in
                        let interval = Duration.nanoseconds(1_000_000_000 / Int64(self.rate))
                        var due = clock.now
                        while !state.stop.load(ordering: .relaxed) {
                            if clock.now < due { try await Task.sleep(until: due, tolerance: .zero, clock: clock) }
                            let intended = due
                            due = due + interval
                            guard state.inflight.load(ordering: .relaxed) < self.maxInflight else {
                                if state.recording.load(ordering: .relaxed) { state.errors.add(1, ordering: .relaxed) }
                                continue
                            }
                            state.inflight.add(1, ordering: .relaxed)
                            calls.addTask {
                                defer { state.inflight.subtract(1, ordering: .relaxed) }
                                do {
                                    _ = try await client.unary(Self.echo, payload, options: options)
                                    record(intended)
                                } catch {
                                    if state.recording.load(ordering: .relaxed) { state.errors.add(1, ordering: .relaxed) }
                                }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = phaseStart
        let cpu = cpuSeconds() - cpuStart
        await client.close()
        let h = state.histogram.withLock { $0 }
        let qps = Double(h.totalCount) / self.duration
        let mode = self.rate == 0 ? "closed" : "open"
        print(
            "stack=drpc mode=\(mode) endpoints=\(self.endpoints) concurrency=\(self.concurrency) rate=\(self.rate) executor=\(self.executor) tls=\(self.tls ? "on" : "off") calls=\(h.totalCount) errors=\(state.errors.load(ordering: .relaxed)) qps=\(Int(qps)) p50_us=\(h.valueAtPercentile(50)) p90_us=\(h.valueAtPercentile(90)) p99_us=\(h.valueAtPercentile(99)) p999_us=\(h.valueAtPercentile(99.9)) max_us=\(h.max) rss_kb=\(peakRSSKilobytes()) cpu_s=\(String(format: cpu))"
        )
    }
}

/// Shared counters of one run (atomics live in a class so tasks can share them).
final class BenchState: Sendable {
    let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three))
    let errors = Atomic<Int>(0)
    let recording = Atomic<Bool>(false)
    let stop = Atomic<Bool>(false)
    let inflight = Atomic<Int>(0)
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func peakRSSKilobytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss)
}

extension String {
    init(format value: Double) {
        self = String(Int(value * 100) / 100) + "." + String(Int(value * 100) % 100)
    }
}
