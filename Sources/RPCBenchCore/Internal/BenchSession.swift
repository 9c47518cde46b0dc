#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DeadlineRPC
import Foundation
import NIOCore

/// One run against one target: its clients, its phases, and the report they make.
struct BenchSession: Sendable {
    /// The run's settings.
    let configuration: BenchConfiguration
    /// What it calls.
    let target: any BenchTarget
    /// The target's chain length.
    let hops: Int
    /// The progress line, if shown.
    let progress: ProgressLine?
    /// Counters for the progress line.
    let live: LiveCounters
    /// The shared connections (victims and storm).
    let clients: [any BenchConnection]
    /// Opens the disconnect storm's connections.
    let connector: any BenchConnector
    /// The stack measured, for the report.
    let stack: BenchStackDescription
    /// Every request's payload.
    let payload: ByteBuffer

    /// Creates a session over connections its caller owns.
    init(
        configuration: BenchConfiguration,
        target: any BenchTarget,
        hops: Int,
        clients: [any BenchConnection],
        connector: any BenchConnector,
        stack: BenchStackDescription,
        progress: ProgressLine?
    ) {
        self.configuration = configuration
        self.target = target
        self.hops = hops
        self.progress = progress
        self.live = progress?.live ?? LiveCounters()
        self.clients = clients
        self.connector = connector
        self.stack = stack
        self.payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: max(0, configuration.payloadBytes))
    }

    /// Runs every phase with the progress line beside it and returns the report.
    func run(startedAt: String) async throws -> BenchReport {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let progress = self.progress {
                group.addTask { await progress.run() }
            }
            do {
                let report = try await self.measure(startedAt: startedAt)
                group.cancelAll()
                return report
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    // MARK: Phases

    private func measure(startedAt: String) async throws -> BenchReport {
        let clock = try await self.checkClock()
        // One call per connection first, so a wrong target fails fast and connections are open before timing.
        for client in self.clients {
            let outcome = await client.echo(BenchRequest(payload: self.payload), timeout: .seconds(5))
            guard outcome == .ok else {
                throw RPCError(code: .unavailable, message: "The first echo to \(self.target.label) failed: \(outcome.code).")
            }
        }
        if self.configuration.warmup > .zero {
            // Victims and the storm, unrecorded: connections, caches and the allocator's high-water marks settle
            // before the memory reading that the run is compared against.
            _ = try await self.phase("warm-up", storm: self.configuration.storm.isEnabled, propagation: true, duration: self.configuration.warmup)
        }
        _ = try await self.target.drainRecords()
        let rssBefore = ProcessMemory.trimmedResidentBytes
        let serverBefore = try await self.target.snapshot(trimMemory: true)

        var phases: [PhaseReport] = []
        phases.append(try await self.phase("calm", storm: false, propagation: true))
        if self.configuration.storm.isEnabled {
            phases.append(try await self.phase("storm", storm: true, propagation: true))
            // Propagation only matters where a hop calls another: nothing to compare on a single server.
            if self.configuration.comparePropagation && self.hops >= 2 {
                phases.append(try await self.phase("storm-propagation-off", storm: true, propagation: false))
            }
        }

        self.progress?.note("draining")
        let drain = await self.settle()
        let final = try await self.target.snapshot(trimMemory: true)
        let rssAfter = ProcessMemory.trimmedResidentBytes
        let memory = MemoryReport(
            rssBeforeBytes: rssBefore,
            rssAfterBytes: rssAfter,
            rssRatio: Self.ratio(rssAfter, rssBefore),
            peakRSSBytes: ProcessMemory.peakResidentBytes,
            serverRSSBeforeBytes: serverBefore.rssBytes,
            serverRSSAfterBytes: final.rssBytes,
            serverRSSRatio: Self.ratio(final.rssBytes, serverBefore.rssBytes),
            serverPeakRSSBytes: final.peakRSSBytes
        )
        let afterRun = AfterRun(
            handlersInFlightByHop: final.hops.map(\.handlersInFlight),
            handlersInFlight: final.handlersInFlight,
            stragglersNowByHop: final.hops.map(\.stragglersNow),
            stragglersTotalByHop: final.hops.map(\.stragglersTotal),
            shedCallsByHop: final.hops.map(\.shedCalls),
            refusedCallsByHop: final.hops.map(\.refusedCalls),
            callsStartedByHop: final.hops.map(\.callsStarted),
            callsFinishedByHop: final.hops.map(\.callsFinished),
            drained: drain.drained,
            drainMilliseconds: drain.milliseconds
        )
        return ReportBuilder.report(
            startedAt: startedAt,
            target: self.target.label,
            configuration: self.reportConfiguration,
            phases: phases,
            afterRun: afterRun,
            memory: memory,
            clock: clock
        )
    }

    private func phase(_ name: String, storm: Bool, propagation: Bool, duration: Duration? = nil) async throws -> PhaseReport {
        let duration = duration ?? self.configuration.duration
        self.live.reset()
        self.progress?.begin(name, planned: duration)
        let before = try await self.target.snapshot()
        let recorders = self.clients.map { _ in LatencyRecorder(live: self.live) }
        let stormLog = StormLog()

        async let victimRun = self.victims(for: duration, recorders: recorders, propagation: propagation)
        if storm {
            let driver = StormDriver(
                configuration: self.configuration.storm,
                clients: self.clients,
                connector: self.connector,
                hops: self.hops,
                propagation: propagation,
                payload: self.payload,
                log: stormLog,
                live: self.live
            )
            await driver.run(for: duration)
        }
        let load = await victimRun

        self.progress?.note("\(name): settling")
        let settle = await self.settle()
        let after = try await self.target.snapshot()
        let handlerRecords = try await self.target.drainRecords()
        let stormRecords = stormLog.drain()

        let histogram = LatencyHistogram.merged(recorders.map(\.histogram))
        var errorsByCode: [String: Int] = [:]
        for recorder in recorders {
            errorsByCode.merge(recorder.errorsByCode, uniquingKeysWith: +)
        }
        let succeeded = recorders.reduce(0) { $0 + $1.succeeded }
        let failed = recorders.reduce(0) { $0 + $1.failed }
        let seconds = max(1e-9, Double(load.endedAt - load.startedAt) / 1e9)
        let victims = VictimReport(
            calls: load.calls,
            succeeded: succeeded,
            errors: failed,
            errorsByCode: errorsByCode,
            throughputPerSecond: LatencySummary.round(Double(succeeded) / seconds, digits: 1),
            latencyMicroseconds: histogram.summary,
            percentileCurve: histogram.percentileCurve
        )
        let sum = { (keyPath: KeyPath<HopSnapshot, Int>, snapshot: TopologySnapshot) in
            snapshot.hops.reduce(0) { $0 + $1[keyPath: keyPath] }
        }
        let server = PhaseServerReport(
            callsStarted: sum(\.callsStarted, after) - sum(\.callsStarted, before),
            callsFinished: sum(\.callsFinished, after) - sum(\.callsFinished, before),
            stragglers: sum(\.stragglersTotal, after) - sum(\.stragglersTotal, before),
            shedCalls: sum(\.shedCalls, after) - sum(\.shedCalls, before),
            refusedCalls: sum(\.refusedCalls, after) - sum(\.refusedCalls, before),
            settleMilliseconds: settle.milliseconds,
            handlersInFlightAfterSettle: settle.handlersInFlight
        )
        return PhaseReport(
            name: name,
            storm: storm,
            propagation: propagation,
            seconds: LatencySummary.round(seconds),
            victims: victims,
            stormResults: storm
                ? StormAnalysis.report(calls: stormRecords, handlers: handlerRecords, hops: self.hops)
                : .empty(hops: self.hops),
            server: server,
            pacerLatenessMicroseconds: load.pacerLateness.summary
        )
    }

    /// Victim calls for `duration`, in the configured shape. Their requests carry the phase's `propagation`, so
    /// a target whose propagation is a property of its servers (the demo topology) sends them where the storm goes.
    private func victims(for duration: Duration, recorders: [LatencyRecorder], propagation: Bool) async -> LoadRunSummary {
        let clients = self.clients
        let timeout = self.configuration.victimTimeout
        let base = BenchRequest(workKind: self.configuration.serviceWork, propagation: propagation, payload: self.payload)
        let mean = Double(self.configuration.serviceTime.benchNanoseconds)
        let exponential = self.configuration.serviceTimeDistribution == .exponential
        return await LoadGenerator(shape: self.configuration.load).run(for: duration, recorders: recorders) { k in
            var request = base
            if mean > 0 {
                request.workNanoseconds = exponential ? Int64(-mean * log(1 - Double.random(in: 0..<1))) : Int64(mean)
            }
            let client = clients[k % clients.count]
            return await client.echo(request, timeout: timeout)
        }
    }

    /// Polls the servers (every `settlePollInterval`, up to the drain timeout) until no handler is in flight.
    private func settle() async -> (drained: Bool, milliseconds: Double, handlersInFlight: Int) {
        let start = BenchClock.now()
        let limit = start + self.configuration.drainTimeout.benchNanoseconds
        var inFlight = -1
        while true {
            if let snapshot = try? await self.target.snapshot() {
                inFlight = snapshot.handlersInFlight
                if inFlight == 0 { break }
            }
            if BenchClock.now() >= limit { break }
            try? await Task.sleep(for: self.target.settlePollInterval)
        }
        let milliseconds = LatencySummary.round(Double(BenchClock.now() - start) / 1e6)
        return (inFlight == 0, milliseconds, max(0, inFlight))
    }

    /// Compares the server's clock with ours: shared when its reading falls between two of ours.
    private func checkClock() async throws -> ClockCheck {
        let before = BenchClock.now()
        let snapshot = try await self.target.snapshot()
        let after = BenchClock.now()
        let midpoint = before + (after - before) / 2
        return ClockCheck(
            shared: snapshot.clockNanoseconds >= before && snapshot.clockNanoseconds <= after,
            offsetMicroseconds: LatencySummary.round(Double(snapshot.clockNanoseconds - midpoint) / 1e3)
        )
    }

    private static func ratio(_ numerator: Int, _ denominator: Int) -> Double {
        denominator > 0 ? LatencySummary.round(Double(numerator) / Double(denominator)) : 0
    }

    private var reportConfiguration: ReportConfiguration {
        let c = self.configuration
        var mode = "open"
        var rate = 0.0
        var maxInFlight = 0
        var concurrency = 0
        switch c.load {
        case .open(let r, let cap):
            rate = r
            maxInFlight = cap
        case .closed(let n):
            mode = "closed"
            concurrency = n
        }
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        return ReportConfiguration(
            mode: mode,
            rate: rate,
            maxInFlight: maxInFlight,
            concurrency: concurrency,
            connections: self.clients.count,
            payloadBytes: c.payloadBytes,
            serviceTimeMicroseconds: c.serviceTime.benchMicroseconds,
            serviceTimeDistribution: c.serviceTimeDistribution.rawValue,
            serviceWork: c.serviceWork.description,
            warmupSeconds: c.warmup.benchSeconds,
            durationSeconds: c.duration.benchSeconds,
            victimTimeoutMilliseconds: c.victimTimeout.benchMicroseconds / 1_000,
            hops: self.hops,
            handlerExecutor: self.stack.handlerExecutor,
            maxConcurrentStreams: self.stack.maxConcurrentStreams,
            comparePropagation: c.comparePropagation,
            storm: StormSettings(c.storm),
            build: build,
            cores: ProcessInfo.processInfo.activeProcessorCount,
            stack: self.stack.name
        )
    }
}
