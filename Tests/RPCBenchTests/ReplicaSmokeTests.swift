import DeadlineRPC
import Foundation
import RPCBenchCore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `rpcbench --replicas`: real `rpcbench serve` children, one killed and restarted mid-phase; and the children gone
/// however rpcbench ends.
@Suite("Replica chaos: rpcbench serve children killed and restarted", .timeLimit(.minutes(5)), .heavyweight)
struct ReplicaSmokeTests {
    @Test("Three replicas, one kill: every phase's structure, 0 victim errors with retry, nothing left running", .timeLimit(.minutes(2)))
    func oneKill() async throws {
        var configuration = ReplicaBenchConfiguration(serveExecutable: try ReplicaProcesses.executable())
        configuration.replicas = 3
        configuration.killEvery = .seconds(1)
        configuration.downFor = .milliseconds(200)
        configuration.bench.load = .open(rate: 100, maxInFlight: 100)
        configuration.bench.warmup = .milliseconds(200)
        configuration.bench.duration = .milliseconds(1_500)
        // Far above a debug build's latency on a loaded machine: a victim that fails here fails for a reason.
        configuration.bench.victimTimeout = .seconds(10)
        #expect(configuration.plannedKills == 1)

        let report = try await ReplicaBench.run(configuration)

        #expect(report.schema == "rpcbench-replicas/1")
        #expect(report.configuration.replicas == 3 && report.configuration.retry)
        #expect(report.configuration.balancing == "least-loaded")
        #expect(report.phases.map(\.name) == ["single", "replicas", "kills"])
        #expect(report.phases.map(\.endpoints) == [1, 3, 3])
        #expect(report.phases.map(\.kills.count) == [0, 0, 1])
        for phase in report.phases {
            // 100/s for 1.5 s: the open loop sends exactly 150 calls, and every one succeeds — the ones in flight
            // on the killed replica through a retry on another.
            #expect(phase.victims.calls == 150, "\(phase.name)")
            #expect(phase.victims.succeeded == 150, "\(phase.name)")
            #expect(phase.victims.errors == 0, "\(phase.name): \(phase.victims.errorsByCode)")
            #expect(phase.victims.errorsByCode.isEmpty)
            #expect(phase.victims.latencyMicroseconds.count == 150)
            #expect(phase.client.retriesRefused == 0)
            #expect(phase.client.shedForLatency == 0)
            #expect(phase.clientCPUMicrosecondsPerCall > 0)
        }
        // Nothing failed without kills: nothing retried, and the replicas started exactly the victims' calls.
        for name in ["single", "replicas"] {
            let calm = try #require(report.phase(name))
            #expect(calm.client.retries == 0 && calm.client.transparentRetries == 0 && calm.client.endpointsEjected == 0)
            #expect(calm.callsByReplica.reduce(0, +) == 150, "\(name): \(calm.callsByReplica)")
        }
        #expect(report.phase("single")?.callsByReplica == [150, 0, 0])
        let kills = try #require(report.phase("kills"))
        #expect(kills.callsByReplica.count == 3)
        let kill = try #require(kills.kills.first)
        #expect(kill.replica == 0)  // Round robin from the first.
        #expect(kill.atSeconds >= 1)  // Due 1 s in; a sleep never ends early.
        #expect(kill.downMilliseconds >= 200)

        // The replicas drained, and every child — the three, and replica 0's second life — is gone.
        #expect(report.afterRun.drained && report.afterRun.handlersInFlight == 0)
        #expect(report.afterRun.callsStartedByReplica.count == 3)
        #expect(report.afterRun.childrenStarted == 4)
        #expect(report.afterRun.childrenLeft == 0)
        #expect(ChildProcesses.shared.live.isEmpty)
        #expect(ReplicaProcesses.ownReplicas.isEmpty)
        #expect(report.goals.map(\.met) == [true, true, true], "\(report.goals)")

        let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        #expect(Set(json.keys) == ["schema", "startedAt", "configuration", "phases", "afterRun", "goals"])
        let decoded = try JSONDecoder().decode(ReplicaBenchReport.self, from: report.json())
        #expect(decoded.phases.map(\.kills) == report.phases.map(\.kills))
        let table = ReplicaBenchTable.render(report)
        for row in ["single", "replicas", "kills", "p99 vs single", "calls by replica", "transparent retries", "retries refused", "client CPU µs per call", "Kills", "child processes started / left"] {
            #expect(table.contains(row), "\(row)")
        }
        #expect(ReplicaBenchTable.plot(report).contains("<polyline"))
    }

    @Test("SIGINT to rpcbench kills its replicas, and it exits 130")
    func interrupted() async throws {
        try await Self.stopMidRun(with: SIGINT)
    }

    @Test("SIGKILL to rpcbench: its replicas see their standard input close and exit by themselves")
    func killed() async throws {
        try await Self.stopMidRun(with: SIGKILL)
    }

    /// Starts `rpcbench --replicas 2` for far longer than the test, waits for its first progress line (printed once
    /// the replicas listen), sends `signal`, and awaits the exit of rpcbench and of both replicas.
    private static func stopMidRun(with signal: Int32) async throws {
        let bench = try BenchProcess(["--replicas", "2", "--duration", "120", "--warmup", "0", "--rate", "20", "--results", NSTemporaryDirectory()])
        var replicas: [Int32] = []
        defer {
            // Only if the test failed before they exited.
            for pid in replicas where !ReplicaProcesses.hasExited(pid) { kill(pid, SIGKILL) }
            if bench.process.isRunning { kill(bench.pid, SIGKILL) }
        }
        let started = await bench.waitForLine(startingWith: "[")
        try #require(started, "no progress line; stderr:\n\(bench.stderr)")
        replicas = ReplicaProcesses.children(of: bench.pid).filter { $0.arguments.contains("serve") }.map(\.pid)
        #expect(replicas.count == 2)

        kill(bench.pid, signal)
        await bench.waitForExit()
        if signal == SIGKILL {
            #expect(bench.process.terminationReason == .uncaughtSignal && bench.process.terminationStatus == SIGKILL)
        } else {
            #expect(bench.process.terminationReason == .exit && bench.process.terminationStatus == 128 + signal, "\(bench.stderr)")
        }
        for pid in replicas {
            let exited = await ReplicaProcesses.exited(pid, within: .seconds(10))
            #expect(exited, "replica \(pid) still running")
        }
    }
}
