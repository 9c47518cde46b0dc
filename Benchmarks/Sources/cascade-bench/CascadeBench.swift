import ArgumentParser
import DeadlineRPC
@_spi(LatencyTrace) import DeadlineRPC
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Cancel and deadline across a chain of servers (issue: deadlines): per hop, how long after the caller's cancel
/// (or after the deadline instant) each handler's task was cancelled, and how much work hops did after the call
/// was dead, with propagation on and off. All servers run in this process, so one monotonic clock serves every hop.
@main
struct CascadeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cascade-bench")

    @Option(help: "Servers in the chain.") var hops: Int = 4
    @Option(help: "Calls per experiment.") var calls: Int = 2_000
    @Option(help: "Calls in flight at once.") var concurrency: Int = 8
    @Option(help: "Budget (ms) of the deadline experiment's calls.") var budgetMs: Int = 20
    @Option(help: "Work (ms) the last hop does when nothing stops it (propagation-off experiment).") var workMs: Int = 50
    /// Handlers run on the global executor, as on every DeadlineRPC server (never on the I/O loops).
    var executor: String { "global" }
    @ArgumentParser.Flag(help: "Set a 1 ns timer slack on the event-loop threads (Linux's default is 50 µs) before the run.")
    var preciseLoopTimers = false
    @Option(help: "Write the runtime's timestamps along the cancel and deadline paths (LatencyTrace) of the cancel and deadline experiments to this CSV file (use with --concurrency 1).")
    var trace: String?
    @ArgumentParser.Flag(help: "Run each hop's server (and its client of the next hop) in a process of its own, on 127.0.0.1, as deployed; the caller stays in this process. Cancel and deadline experiments only (no --trace).")
    var processes = false
    /// An experiment, not a setting DeadlineRPC recommends: every task, handlers and callers included, then runs on
    /// the I/O loops beside the runtime's timers (docs/PERFORMANCE.md, session 11).
    @ArgumentParser.Flag(help: "Experiment: install NIO's event loops as Swift's global executor before anything runs.")
    var nioGlobalExecutor = false
    @Option(help: .hidden) var serveHop: Int?
    @Option(help: .hidden) var nextPort: Int?

    static let hop = Method<ByteBuffer, ByteBuffer>.raw("bench.Cascade/Hop", kind: .unary)

    func run() async throws {
        if self.nioGlobalExecutor {
            precondition(NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor())
        }
        if self.preciseLoopTimers {
            for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
                try await loop.submit { setTimerSlackOfCurrentThread(nanoseconds: 1) }.get()
            }
        }
        if let hop = self.serveHop {
            return try await HopProcess.serve(hop: hop, isLast: self.nextPort == nil, nextPort: self.nextPort)
        }
        if self.processes {
            let chain = try await ProcessChain.start(hops: self.hops)
            print("cascade-bench: \(self.hops) hops, each in a process of its own, \(self.calls) calls per experiment, \(self.concurrency) in flight, handlers on \(self.executor)")
            let cancel = try await self.experiment(client: chain.client, log: chain.log, propagation: .enabled, mode: .cancel)
            let deadline = try await self.experiment(client: chain.client, log: chain.log, propagation: .enabled, mode: .deadline)
            self.printTables(cancel: cancel, deadline: deadline, off: nil)
            await chain.stop()
            return
        }
        let chainOn = Chain(hops: self.hops, propagation: .enabled, executor: self.executor)
        let chainOff = Chain(hops: self.hops, propagation: .disabledToReproduceLeaks, executor: self.executor)
        try await withThrowingDiscardingTaskGroup { group in
            for server in chainOn.servers + chainOff.servers {
                group.addTask { try await server.run() }
            }
            try await chainOn.wire()
            try await chainOff.wire()
            print("cascade-bench: \(self.hops) hops, \(self.calls) calls per experiment, \(self.concurrency) in flight, handlers on \(self.executor)")

            if self.trace != nil { LatencyTrace.start() }
            let cancel = try await self.experiment(chainOn, mode: .cancel)
            let deadline = try await self.experiment(chainOn, mode: .deadline)
            if let path = self.trace { try Self.writeTrace(LatencyTrace.stop(), to: path) }
            let off = try await self.experiment(chainOff, mode: .cancel)
            self.printTables(cancel: cancel, deadline: deadline, off: off)

            await chainOn.stop()
            await chainOff.stop()
        }
    }

    func printTables(cancel: Results, deadline: Results, off: Results?) {
        for (name, results) in [("cancel", cancel), ("deadline", deadline)] + (off.map { [("propagation off", $0)] } ?? []) where results.incomplete > 0 {
            print("\(name): \(results.incomplete) of \(self.calls) calls never reached every hop (left out of the tables)")
        }
        print("")
        print("| experiment | hop | p50 µs | p90 µs | p99 µs | max µs | samples |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for (name, results) in [("caller cancel → handler task cancelled", cancel), ("deadline instant → handler task cancelled", deadline)] {
            for hop in 0..<self.hops {
                let samples = results.latency[hop]
                print("| \(name) | \(hop + 1) | \(p(samples, 0.5)) | \(p(samples, 0.9)) | \(p(samples, 0.99)) | \(p(samples, 1)) | \(samples.count) |")
            }
        }
        print("")
        print("| propagation | hop | handlers cancelled | still running after the caller's cancel: p50 µs | p99 µs | max µs |")
        print("|---|---:|---:|---:|---:|---:|")
        for (name, results) in [("on", cancel)] + (off.map { [("off", $0)] } ?? []) {
            for hop in 0..<self.hops {
                let wasted = results.wasted[hop]
                print("| \(name) | \(hop + 1) | \(results.cancelledCount[hop]) of \(self.calls) | \(p(wasted, 0.5)) | \(p(wasted, 0.99)) | \(p(wasted, 1)) |")
            }
        }
    }

    enum Mode: Sendable { case cancel, deadline }

    /// The trace as CSV: point, uptime ns, site, thread, value. The benchmark's own marks (point `benchmark`) use
    /// site 1 for a cancel trigger (value: the instant), 2 for a deadline call (value: its deadline instant),
    /// 100 + hop for a handler's start and 200 + hop for its cancellation handler (value: the call's tag).
    static func writeTrace(_ events: [LatencyTrace.Event], to path: String) throws {
        var text = "point,ns,site,thread,value\n"
        for event in events {
            text += "\(event.point),\(event.nanoseconds),\(event.site),\(event.thread),\(event.value)\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    struct Results: Sendable {
        /// Per hop: microseconds from the trigger to the handler task's cancellation.
        var latency: [[Int64]]
        /// Per hop: microseconds the handler kept running after the trigger (0 when it returned before).
        var wasted: [[Int64]]
        var cancelledCount: [Int]
        /// Calls where some hop never ran (its records are left out).
        var incomplete = 0
    }

    func experiment(_ chain: Chain, mode: Mode) async throws -> Results {
        try await self.experiment(client: chain.client, log: chain.log, propagation: chain.propagation, mode: mode)
    }

    /// The calls of one experiment through `client` (the first hop's), one tag each; `log` learns when each hop's
    /// handler started, was cancelled and returned.
    func experiment(client: RPCClient, log: HopLog, propagation: RPCClient.Propagation, mode: Mode) async throws -> Results {
        let state = ExperimentState(hops: self.hops)
        let budget = Duration.milliseconds(self.budgetMs)
        let work = UInt32(self.workMs)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<self.concurrency {
                group.addTask {
                    while true {
                        let index = state.next.add(1, ordering: .relaxed).newValue
                        guard index <= self.calls else { return }
                        let tag = UInt64(index) | (mode == .deadline ? 1 << 40 : 0) | (propagation == .enabled ? 0 : 1 << 41)
                        let probe = log.open(tag: tag, hops: self.hops)
                        var request = ByteBuffer()
                        request.writeInteger(tag)
                        request.writeInteger(work)
                        let trigger: Int64
                        switch mode {
                        case .cancel:
                            let call = Task {
                                try await client.unary(Self.hop, request, options: CallOptions(timeout: .seconds(30)))
                            }
                            await probe.lastHopStarted.wait()
                            trigger = now()
                            LatencyTrace.benchmarkMark(site: 1, value: trigger)
                            call.cancel()
                            _ = await call.result
                        case .deadline:
                            let deadline = Deadline.now() + budget
                            trigger = deadline.uptimeNanoseconds
                            LatencyTrace.benchmarkMark(site: 2, value: trigger)
                            _ = try? await client.unary(Self.hop, request, options: CallOptions(deadline: deadline))
                        }
                        // Every hop returns — unless a hop never ran: under load a 20 ms budget can be spent before
                        // the call reaches the last hops (shed, or failed before it was sent). The caller is done, so
                        // a hop not started within 5 s never will be; such calls are counted, not waited for forever.
                        let complete = await withTaskGroup(of: Bool.self) { waiters in
                            waiters.addTask {
                                await probe.allReturned.wait()
                                return true
                            }
                            waiters.addTask {
                                try? await Task.sleep(for: .seconds(5))
                                return false
                            }
                            let first = await waiters.next()!
                            probe.allReturned.set()  // Ends the other waiter if the timer won.
                            waiters.cancelAll()
                            return first
                        }
                        let records = log.close(tag: tag)
                        state.results.withLock { results in
                            if !complete { results.incomplete += 1 }
                            for (hop, record) in records.enumerated() where record.returned || complete {
                                if let cancelledAt = record.cancelledAt {
                                    results.latency[hop].append((cancelledAt - trigger) / 1_000)
                                    results.cancelledCount[hop] += 1
                                }
                                results.wasted[hop].append(max(0, (record.returnedAt - trigger) / 1_000))
                            }
                        }
                    }
                }
            }
        }
        return state.results.withLock { $0 }
    }
}

/// A chain of servers in this process; each hop forwards to the next, the last one parks (cooperatively) for the
/// requested work or until its task is cancelled. The caller runs the servers; ``wire()`` connects the hops.
final class Chain: Sendable {
    let servers: [RPCServer]
    private let downstreams: [ClientSlot]
    private let entry = Mutex<RPCClient?>(nil)
    let log = HopLog()
    let propagation: RPCClient.Propagation

    init(hops: Int, propagation: RPCClient.Propagation, executor: String) {
        self.propagation = propagation
        let downstreams = (0..<hops).map { _ in ClientSlot() }
        self.downstreams = downstreams
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = 10_000
        let log = self.log
        self.servers = (0..<hops).map { hop in
            let router = Self.router(
                hop: hop, isLast: hop == hops - 1, downstream: { downstreams[hop].client },
                started: { log.started(tag: $0, hop: hop) },
                cancelled: { log.cancelled(tag: $0, hop: hop) },
                returned: { log.returned(tag: $0, hop: hop) }
            )
            return RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: configuration)
        }
    }

    /// One hop's service: forwards to `downstream` (when not the last), or, as the last hop, parks for the
    /// requested work or until its task is cancelled; reports its handler's start, cancellation and return by tag.
    static func router(
        hop: Int,
        isLast: Bool,
        downstream: @escaping @Sendable () -> RPCClient?,
        started: @escaping @Sendable (UInt64) -> Void,
        cancelled: @escaping @Sendable (UInt64) -> Void,
        returned: @escaping @Sendable (UInt64) -> Void
    ) -> Router {
        var router = Router()
        router.unary(CascadeBench.hop) { request, _ in
            let tag = request.getInteger(at: request.readerIndex, as: UInt64.self) ?? 0
            let work = request.getInteger(at: request.readerIndex + 8, as: UInt32.self) ?? 0
            started(tag)
            LatencyTrace.benchmarkMark(site: UInt(101 + hop), value: Int64(tag))
            defer { returned(tag) }
            return try await withTaskCancellationHandler {
                if !isLast, let downstream = downstream() {
                    return try await downstream.unary(CascadeBench.hop, request)
                }
                // The last hop: cooperative work in 1 ms slices, stopping when its task is cancelled.
                let end = ContinuousClock.now + .milliseconds(Int(work))
                while ContinuousClock.now < end && !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(1))
                }
                return request
            } onCancel: {
                LatencyTrace.benchmarkMark(site: UInt(201 + hop), value: Int64(tag))
                cancelled(tag)
            }
        }
        return router
    }

    /// The client of the first hop.
    var client: RPCClient { self.entry.withLock { $0! } }

    /// Gives every hop a client of the next (once all are listening).
    func wire() async throws {
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.propagation = self.propagation
        for hop in 0..<(self.servers.count - 1) {
            let port = try await self.servers[hop + 1].listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: clientConfiguration)
            self.downstreams[hop].client = client
        }
        let port = try await self.servers[0].listeningAddress.port!
        self.entry.withLock { $0 = RPCClient(host: "127.0.0.1", port: port) }
    }

    /// Closes the clients and drains the servers (their `run()` then returns).
    func stop() async {
        await self.client.close()
        for downstream in self.downstreams {
            if let client = downstream.client { await client.close() }
        }
        for server in self.servers { server.beginGracefulShutdown() }
    }
}

/// What the callers of one experiment share: the next call's index and the per-hop samples.
final class ExperimentState: Sendable {
    let next = Atomic<Int>(0)
    let results: Mutex<CascadeBench.Results>

    init(hops: Int) {
        self.results = Mutex(
            CascadeBench.Results(
                latency: Array(repeating: [], count: hops),
                wasted: Array(repeating: [], count: hops),
                cancelledCount: Array(repeating: 0, count: hops)
            )
        )
    }
}

/// A hop's client of the next hop, set once the next hop listens.
final class ClientSlot: Sendable {
    private let storage = Mutex<RPCClient?>(nil)
    var client: RPCClient? {
        get { self.storage.withLock { $0 } }
        set { self.storage.withLock { $0 = newValue } }
    }
}

/// Per call (tag) and hop: when the handler started, was cancelled and returned.
final class HopLog: Sendable {
    struct Record: Sendable {
        var startedAt: Int64 = 0
        var cancelledAt: Int64? = nil
        var returnedAt: Int64 = 0
        var returned = false
    }

    final class Probe: Sendable {
        let lastHopStarted = Flag()
        let allReturned = Flag()
    }

    private struct Entry {
        var records: [Record]
        let probe: Probe
    }

    private let entries = Mutex<[UInt64: Entry]>([:])

    func open(tag: UInt64, hops: Int) -> Probe {
        let probe = Probe()
        self.entries.withLock { $0[tag] = Entry(records: Array(repeating: Record(), count: hops), probe: probe) }
        return probe
    }

    func close(tag: UInt64) -> [Record] {
        self.entries.withLock { $0.removeValue(forKey: tag)?.records ?? [] }
    }

    func started(tag: UInt64, hop: Int, at clock: Int64 = now()) {
        let probe = self.entries.withLock { entries -> Probe? in
            entries[tag]?.records[hop].startedAt = clock
            guard let entry = entries[tag], hop == entry.records.count - 1 else { return nil }
            return entry.probe
        }
        probe?.lastHopStarted.set()
    }

    func cancelled(tag: UInt64, hop: Int, at clock: Int64 = now()) {
        self.entries.withLock { $0[tag]?.records[hop].cancelledAt = clock }
    }

    func returned(tag: UInt64, hop: Int, at clock: Int64 = now()) {
        let probe = self.entries.withLock { entries -> Probe? in
            guard entries[tag] != nil else { return nil }
            entries[tag]!.records[hop].returnedAt = clock
            entries[tag]!.records[hop].returned = true
            return entries[tag]!.records.allSatisfy(\.returned) ? entries[tag]!.probe : nil
        }
        probe?.allReturned.set()
    }
}

/// A one-shot event to await (a continuation, resumed once).
final class Flag: Sendable {
    private let state = Mutex<(set: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func set() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.set else { return [] }
            state.set = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = self.state.withLock { state -> Bool in
                if state.set { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// The monotonic clock of DeadlineRPC's `Deadline`, in nanoseconds.
func now() -> Int64 { Deadline.now().uptimeNanoseconds }

/// The `q` quantile of `samples` in microseconds, as text.
func p(_ samples: [Int64], _ q: Double) -> String {
    guard !samples.isEmpty else { return "–" }
    let sorted = samples.sorted()
    let index = min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)
    return "\(sorted[max(0, index)])"
}

/// `prctl(PR_SET_TIMERSLACK, ns)` for the calling thread (Linux): how late the kernel may fire its timers. `prctl` is
/// variadic, which Swift cannot call; its five-integer form is looked up and called directly, which the Linux
/// x86-64 and AArch64 calling conventions allow for integer arguments.
func setTimerSlackOfCurrentThread(nanoseconds: UInt) {
    #if os(Linux)
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    guard let symbol = dlsym(nil, "prctl") else { return }
    _ = unsafeBitCast(symbol, to: Prctl.self)(29, nanoseconds, 0, 0, 0)  // 29: PR_SET_TIMERSLACK
    #endif
}
