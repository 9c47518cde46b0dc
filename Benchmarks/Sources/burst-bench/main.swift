import ArgumentParser
import BenchSupport
import DeadlineRPC
import Foundation
import Histogram
import NIOCore
import NIOPosix

/// One burst of cancellations, taken apart: N unary calls parked on one connection are cancelled at once (one task
/// group's `cancelAll()`, as rpcbench's burst does), while victims keep calling an echo method on the same connection.
/// Prints when the cancels reach the callers and the handlers, when the handlers are gone, and what the burst did to
/// the victims beside it against the same victims with no burst.
@main
struct BurstBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "burst-bench")

    @Option(help: "Calls parked, then cancelled at once.") var calls: Int = 1000
    @Option(help: "Bursts (each with a calm twin: the same victims with no burst).") var rounds: Int = 20
    @Option(help: "Victim calls per second around each burst (open loop).") var rate: Int = 5000
    @Option(help: "How long victims run from the cancel, ms.") var window: Int = 40
    @Flag(help: "Victims call over a connection of their own instead of the burst's (which one the wait is behind).")
    var victimsOwnConnection = false
    /// An experiment, not a setting DeadlineRPC recommends: every task, handlers and callers included, then runs on
    /// the I/O loops beside the runtime's timers (docs/PERFORMANCE.md, session 11).
    @Flag(help: "Experiment: install NIO's event loops as Swift's global executor before anything runs.")
    var nioGlobalExecutor = false
    /// Handlers run on the global executor, as on every DeadlineRPC server (never on the I/O loops).
    var executor: String { "global" }

    static let hold = Method<ByteBuffer, ByteBuffer>.raw("bench.Burst/Hold", kind: .unary)
    static let echo = Method<ByteBuffer, ByteBuffer>.raw("bench.Burst/Echo", kind: .unary)

    func run() async throws {
        if self.nioGlobalExecutor {
            precondition(NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor())
        }
        let lot = ParkingLot()
        var router = Router()
        router.unary(Self.hold) { request, _ in
            try await lot.park()
            return request
        }
        router.unary(Self.echo) { request, _ in request }
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = self.calls + 1000
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: configuration)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: port)
            let victimClient = self.victimsOwnConnection ? RPCClient(host: "127.0.0.1", port: port) : client
            let payload = ByteBuffer(repeating: 0x61, count: 64)
            _ = try await victimClient.unary(Self.echo, payload, options: CallOptions(timeout: .seconds(5)))
            for _ in 0..<200 { _ = try await client.unary(Self.echo, payload, options: CallOptions(timeout: .seconds(5))) }

            // One plain call's cost, for scale: sequential echo calls.
            let echoAllocations = mallocCount()
            let echoCPU = cpuNanoseconds()
            let echoCalls = 2000
            for _ in 0..<echoCalls { _ = try await client.unary(Self.echo, payload, options: CallOptions(timeout: .seconds(5))) }
            let echoCPUPerCall = Double(cpuNanoseconds() - echoCPU) / 1000 / Double(echoCalls)
            let echoAllocationsPerCall = Double(mallocCount() - echoAllocations) / Double(echoCalls)

            var cancelAllUs: [Double] = []
            var firstHandlerUs: [Double] = []
            var lastHandlerUs: [Double] = []
            var firstCallerUs: [Double] = []
            var lastCallerUs: [Double] = []
            var drainedUs: [Double] = []
            var startCPUUs: [Double] = []
            var cancelCPUUs: [Double] = []
            var startMallocs: [Double] = []
            var cancelSwitches: [Double] = []
            var cancelMallocs: [Double] = []
            var calm = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            var storm = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            for _ in 0..<self.rounds {
                // Calm twin: the victims alone.
                for value in try await self.victims(victimClient, payload) { calm.record(value) }
                // The burst.
                lot.recordCancels()
                let callerEnds = TimeLog(capacity: self.calls)
                let holders = Task {
                    await withTaskGroup(of: Void.self) { callers in
                        for _ in 0..<self.calls {
                            callers.addTask {
                                _ = try? await client.unary(Self.hold, payload, options: CallOptions(timeout: .seconds(120)))
                                callerEnds.record(now())
                            }
                        }
                    }
                }
                let startCPU = cpuNanoseconds()
                let startAllocations = mallocCount()
                while lot.count < self.calls { try await Task.sleep(for: .milliseconds(2)) }
                startCPUUs.append(Double(cpuNanoseconds() - startCPU) / 1000 / Double(self.calls))
                startMallocs.append(Double(mallocCount() - startAllocations) / Double(self.calls))
                try await Task.sleep(for: .milliseconds(20))
                async let victimLatencies = self.victims(victimClient, payload)
                let cancelCPU = cpuNanoseconds()
                let cancelAllocations = mallocCount()
                let cancelSwitchesBefore = contextSwitches()
                let cancelAt = now()
                holders.cancel()
                let cancelReturned = now()
                await holders.value
                while server.stats.handlersInFlight > 0 { try await Task.sleep(for: .microseconds(100)) }
                let drained = now()
                let spent = cpuNanoseconds() - cancelCPU
                if self.window == 0 { cancelSwitches.append(Double(contextSwitches() - cancelSwitchesBefore) / Double(self.calls)) }
                if self.window == 0 { cancelMallocs.append(Double(mallocCount() - cancelAllocations) / Double(self.calls)) }
                if ProcessInfo.processInfo.environment["BURST_WINDOWS"] != nil {
                    // For `perf report --time` (record with `-k CLOCK_MONOTONIC`): the cancel phases only.
                    FileHandle.standardError.write("window \(Double(cancelAt) / 1e9),\(Double(drained) / 1e9)\n".data(using: .utf8)!)
                }
                for value in try await victimLatencies { storm.record(value) }
                if self.window == 0 { cancelCPUUs.append(Double(spent) / 1000 / Double(self.calls)) }
                let handlerTimes = lot.cancelTimes()
                let callerTimes = callerEnds.values()
                cancelAllUs.append(Double(cancelReturned - cancelAt) / 1000)
                firstHandlerUs.append(Double((handlerTimes.min() ?? cancelAt) - cancelAt) / 1000)
                lastHandlerUs.append(Double((handlerTimes.max() ?? cancelAt) - cancelAt) / 1000)
                firstCallerUs.append(Double((callerTimes.min() ?? cancelAt) - cancelAt) / 1000)
                lastCallerUs.append(Double((callerTimes.max() ?? cancelAt) - cancelAt) / 1000)
                drainedUs.append(Double(drained - cancelAt) / 1000)
            }
            // The floor under any RPC: the same number of bare tasks parked the same way, cancelled at once.
            var bareCPU: [Double] = []
            for _ in 0..<self.rounds {
                let bare = ParkingLot()
                let tasks = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for _ in 0..<self.calls { group.addTask { try? await bare.park() } }
                    }
                }
                while bare.count < self.calls { try await Task.sleep(for: .milliseconds(2)) }
                let before = cpuNanoseconds()
                tasks.cancel()
                await tasks.value
                bareCPU.append(Double(cpuNanoseconds() - before) / 1000 / Double(self.calls))
            }
            print("burst of \(self.calls) cancels, handlers on \(self.executor), \(self.rounds) rounds; medians (min–max), µs from the cancel:")
            print("  cancelAll() returned         \(summary(cancelAllUs))")
            print("  first caller resumed         \(summary(firstCallerUs))")
            print("  last caller resumed          \(summary(lastCallerUs))")
            print("  first handler task cancelled \(summary(firstHandlerUs))")
            print("  last handler task cancelled  \(summary(lastHandlerUs))")
            print("  all handlers returned        \(summary(drainedUs))")
            print("CPU per call (whole process, µs): start and park \(summary(startCPUUs)); cancel to drained \(self.window == 0 ? summary(cancelCPUUs) : "(with --window 0 only)")")
            print("CPU per bare parked task cancelled the same way (no RPC; µs): \(summary(bareCPU))")
            if self.window == 0 { print("context switches per cancelled call (whole process): \(summary(cancelSwitches, "%.2f"))") }
            print("one echo call at a time (whole process): CPU \(String(format: "%.1f", echoCPUPerCall)) µs per call\(mallocCount() > 0 ? String(format: ", %.1f allocations per call", echoAllocationsPerCall) : "")")
            if mallocCount() > 0 {
                print("allocations per call (LD_PRELOAD counter): start and park \(summary(startMallocs)); cancel to drained \(self.window == 0 ? summary(cancelMallocs) : "(with --window 0 only)")")
            }
            print("victims at \(self.rate)/s for \(self.window) ms from the cancel (calm twin: no burst), µs:")
            print("  calm  p50 \(us(calm, 50)) p90 \(us(calm, 90)) p99 \(us(calm, 99)) max \(Double(calm.max) / 1000) n=\(calm.totalCount)")
            print("  burst p50 \(us(storm, 50)) p90 \(us(storm, 90)) p99 \(us(storm, 99)) max \(Double(storm.max) / 1000) n=\(storm.totalCount)")
            await client.close()
            if self.victimsOwnConnection { await victimClient.close() }
            server.beginGracefulShutdown()
        }
    }

    /// Open-loop echo calls for `window` ms; each latency (ns) counts from its intended send time.
    func victims(_ client: RPCClient, _ payload: ByteBuffer) async throws -> [UInt64] {
        let interval = 1_000_000_000 / UInt64(self.rate)
        let count = self.window * self.rate / 1000
        guard count > 0 else { return [] }
        let start = now()
        return try await withThrowingTaskGroup(of: UInt64.self) { group in
            for i in 0..<count {
                let due = start + UInt64(i) * interval
                let current = now()
                if due > current { try await Task.sleep(for: .nanoseconds(Int64(due - current))) }
                group.addTask {
                    _ = try await client.unary(Self.echo, payload, options: CallOptions(timeout: .seconds(5)))
                    return now() - due
                }
            }
            var out: [UInt64] = []
            for try await value in group { out.append(value) }
            return out
        }
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Allocations so far, when a counting malloc shim (`mcount_total`) is preloaded; 0 otherwise.
func mallocCount() -> Int {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mcount_total") else { return 0 }
    typealias Counter = @convention(c) () -> Int
    return unsafeBitCast(symbol, to: Counter.self)()
}

/// Voluntary and involuntary context switches of the whole process.
func contextSwitches() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_nvcsw + usage.ru_nivcsw
}

/// User and system CPU time of the whole process.
func cpuNanoseconds() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_utime.tv_usec) * 1000
    let system = UInt64(usage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_stime.tv_usec) * 1000
    return user + system
}

func us(_ histogram: Histogram<UInt64>, _ percentile: Double) -> String {
    String(format: "%.0f", Double(histogram.valueAtPercentile(percentile)) / 1000)
}

func summary(_ values: [Double], _ format: String = "%.0f") -> String {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return "–" }
    return String(format: "\(format) (\(format)–\(format))", sorted[sorted.count / 2], sorted.first!, sorted.last!)
}
