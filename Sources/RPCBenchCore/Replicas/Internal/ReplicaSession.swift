import DeadlineRPC
import Foundation
import NIOCore

/// The phases of one replica-chaos run over a started ``ReplicaSet``.
struct ReplicaSession: Sendable {
    /// What a session measured; the caller adds what it knows once the children are stopped.
    struct Measured: Sendable {
        var phases: [ReplicaPhaseReport]
        var handlersInFlight: Int
        var drained: Bool
        var callsStartedByReplica: [Int]
    }

    let configuration: ReplicaBenchConfiguration
    let replicas: ReplicaSet
    let live: LiveCounters
    let progress: ProgressLine?

    private var bench: BenchConfiguration { self.configuration.bench }

    /// `single`, `replicas`, `kills`, then the drain.
    func measure() async throws -> Measured {
        let endpoints = self.replicas.ports.map { Endpoint(host: "127.0.0.1", port: $0) }
        var phases: [ReplicaPhaseReport] = []
        try await self.withClients(.endpoints([endpoints[0]])) { clients, retry in
            try await self.warmUp(clients, retry: retry, label: endpoints[0].description)
            phases.append(try await self.phase("single", clients: clients, retry: retry, endpoints: 1, kills: false))
        }
        try await self.withClients(.endpoints(endpoints)) { clients, retry in
            try await self.warmUp(clients, retry: retry, label: Target.endpoints(endpoints).description)
            phases.append(try await self.phase("replicas", clients: clients, retry: retry, endpoints: endpoints.count, kills: false))
            if self.configuration.plannedKills > 0 {
                phases.append(try await self.phase("kills", clients: clients, retry: retry, endpoints: endpoints.count, kills: true))
            }
        }
        self.progress?.note("draining")
        let drain = await self.settle()
        return Measured(phases: phases, handlersInFlight: drain.handlersInFlight, drained: drain.drained, callsStartedByReplica: drain.callsStarted)
    }

    /// Runs `body` with `bench.connections` clients for `target` (one shared `RetryInterceptor` when retrying),
    /// and closes them after it, whether it throws or not.
    private func withClients(
        _ target: Target,
        _ body: ([RPCClient], RetryInterceptor.Stats?) async throws -> Void
    ) async throws {
        let configuration = self.bench.clientConfiguration
        let retry = configuration.interceptors.lazy.compactMap { $0 as? RetryInterceptor }.first?.stats
        let clients = (0..<max(1, self.bench.connections)).map { _ in RPCClient(target: target, configuration: configuration) }
        do {
            try await body(clients, retry)
            for client in clients { await client.close() }
        } catch {
            for client in clients { await client.close() }
            throw error
        }
    }

    /// One echo per client (a wrong setup fails fast; connections open before timing), then the warm-up load.
    private func warmUp(_ clients: [RPCClient], retry: RetryInterceptor.Stats?, label: String) async throws {
        for client in clients {
            let outcome = await client.echo(BenchRequest(payload: self.payload), timeout: .seconds(5))
            guard outcome == .ok else {
                throw RPCError(code: .unavailable, message: "The first echo to \(label) failed: \(outcome.code).")
            }
        }
        if self.bench.warmup > .zero {
            _ = try await self.phase("warm-up", clients: clients, retry: retry, endpoints: 0, kills: false, duration: self.bench.warmup)
        }
    }

    private var payload: ByteBuffer {
        ByteBuffer(repeating: UInt8(ascii: "x"), count: max(0, self.bench.payloadBytes))
    }

    private func phase(
        _ name: String,
        clients: [RPCClient],
        retry: RetryInterceptor.Stats?,
        endpoints: Int,
        kills: Bool,
        duration: Duration? = nil
    ) async throws -> ReplicaPhaseReport {
        let duration = duration ?? self.bench.duration
        self.live.reset()
        self.progress?.begin(name, planned: duration)
        let before = ReplicaClientCounters(clients: clients, retry: retry)
        let recorders = clients.map { _ in LatencyRecorder(live: self.live) }
        let served = ServedCalls(start: await self.readCalls())
        let cpuBefore = ProcessCPU.seconds
        let start = BenchClock.now()
        async let load = self.victims(for: duration, clients: clients, recorders: recorders)
        let events = kills ? try await self.killEvery(from: start, for: duration, served: served) : []
        let summary = await load
        let cpu = ProcessCPU.seconds - cpuBefore
        served.end(await self.readCalls())
        let counters = ReplicaClientCounters(clients: clients, retry: retry) - before

        let histogram = LatencyHistogram.merged(recorders.map(\.histogram))
        var errorsByCode: [String: Int] = [:]
        for recorder in recorders {
            errorsByCode.merge(recorder.errorsByCode, uniquingKeysWith: +)
        }
        let succeeded = recorders.reduce(0) { $0 + $1.succeeded }
        let seconds = max(1e-9, Double(summary.endedAt - summary.startedAt) / 1e9)
        return ReplicaPhaseReport(
            name: name,
            endpoints: endpoints,
            seconds: LatencySummary.round(seconds),
            victims: VictimReport(
                calls: summary.calls,
                succeeded: succeeded,
                errors: recorders.reduce(0) { $0 + $1.failed },
                errorsByCode: errorsByCode,
                throughputPerSecond: LatencySummary.round(Double(succeeded) / seconds, digits: 1),
                latencyMicroseconds: histogram.summary,
                percentileCurve: histogram.percentileCurve
            ),
            client: counters,
            kills: events,
            callsByReplica: served.total,
            pacerLatenessMicroseconds: summary.pacerLateness.summary,
            clientCPUMicrosecondsPerCall: LatencySummary.round(cpu * 1e6 / Double(max(1, summary.calls)), digits: 2)
        )
    }

    /// Victim echoes for `duration` in the configured shape, call k on client k mod clients.
    private func victims(for duration: Duration, clients: [RPCClient], recorders: [LatencyRecorder]) async -> LoadRunSummary {
        let timeout = self.bench.victimTimeout
        let base = BenchRequest(workKind: self.bench.serviceWork, propagation: true, payload: self.payload)
        let mean = Double(self.bench.serviceTime.benchNanoseconds)
        let exponential = self.bench.serviceTimeDistribution == .exponential
        return await LoadGenerator(shape: self.bench.load).run(for: duration, recorders: recorders) { k in
            var request = base
            if mean > 0 {
                request.workNanoseconds = exponential ? Int64(-mean * log(1 - Double.random(in: 0..<1))) : Int64(mean)
            }
            return await clients[k % clients.count].echo(request, timeout: timeout)
        }
    }

    /// Kill k (from 1) is due `k × killEvery` after `start`, while that is inside the phase: replica (k − 1) mod N
    /// is SIGKILLed, left down for `downFor` and started again on its port before the next kill is considered.
    private func killEvery(from start: Int64, for duration: Duration, served: ServedCalls) async throws -> [ReplicaKill] {
        let every = self.configuration.killEvery.benchNanoseconds
        let planned = self.configuration.plannedKills
        guard planned > 0 else { return [] }
        var events: [ReplicaKill] = []
        for k in 1...planned {
            let due = start + Int64(k) * every
            let wait = due - BenchClock.now()
            if wait > 0 { try await Task.sleep(for: .nanoseconds(wait)) }
            let index = (k - 1) % self.replicas.count
            served.life(of: index, endedAt: await self.replicas.callsStarted(index))
            let killedAt = BenchClock.now()
            await self.replicas.kill(index)
            try await Task.sleep(for: self.configuration.downFor)
            try await self.replicas.restart(index)
            let back = BenchClock.now()
            events.append(
                ReplicaKill(
                    replica: index,
                    port: self.replicas.ports[index],
                    atSeconds: LatencySummary.round(Double(killedAt - start) / 1e9),
                    downMilliseconds: LatencySummary.round(Double(back - killedAt) / 1e6)
                )
            )
        }
        return events
    }

    /// Every replica's calls started now (0 for one that does not answer).
    private func readCalls() async -> [Int] {
        var calls: [Int] = []
        for index in 0..<self.replicas.count {
            calls.append(await self.replicas.callsStarted(index) ?? 0)
        }
        return calls
    }

    /// Polls every replica on a control client of its own (every 5 ms, at most the drain timeout) until no handler
    /// is in flight anywhere; also returns the calls each replica's process started.
    private func settle() async -> (drained: Bool, handlersInFlight: Int, callsStarted: [Int]) {
        let controls = self.replicas.ports.map { RemoteTarget(host: "127.0.0.1", port: $0) }
        let limit = BenchClock.now() + self.bench.drainTimeout.benchNanoseconds
        var inFlight = -1
        var callsStarted = controls.map { _ in 0 }
        while true {
            var total = 0
            var complete = true
            for (index, control) in controls.enumerated() {
                if let snapshot = try? await control.snapshot() {
                    total += snapshot.handlersInFlight
                    callsStarted[index] = snapshot.hops.first?.callsStarted ?? 0
                } else {
                    complete = false
                }
            }
            if complete {
                inFlight = total
                if total == 0 { break }
            }
            if BenchClock.now() >= limit { break }
            // The replicas are other processes: no event of ours marks their handlers ending, so they are read.
            try? await Task.sleep(for: .milliseconds(5))
        }
        for control in controls { await control.close() }
        return (inFlight == 0, max(0, inFlight), callsStarted)
    }
}
