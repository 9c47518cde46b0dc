import ArgumentParser
import DeadlineRPC
import Foundation
import RPCBenchCore
import RPCBenchOptions

extension RPCBench.Run {
    /// The replica-chaos configuration the flags describe; `executable` is the `rpcbench` the replicas run.
    func replicaConfiguration(executable: URL) -> ReplicaBenchConfiguration {
        var c = ReplicaBenchConfiguration(serveExecutable: executable)
        c.replicas = self.replicas ?? c.replicas
        if let killEvery = self.killEvery { c.killEvery = killEvery.duration }
        if let downFor = self.downFor { c.downFor = downFor.duration }
        c.bench = self.benchConfiguration
        return c
    }

    /// `rpcbench --replicas N`: starts the replicas as children of this process, runs the phases, prints the table
    /// and writes `replicas.json` and `plot.svg`. Exit status 2 when handlers were left running or a child was left.
    func runReplicas() async throws {
        // Ctrl-C or a kill of this process must not leave the replicas behind.
        ChildProcesses.shared.installSignalHandlers()
        let configuration = self.replicaConfiguration(executable: Self.ownExecutable)
        let progress = self.workload.quiet ? nil : ProgressLine(live: LiveCounters())
        let kills = configuration.plannedKills > 0
            ? "\(configuration.plannedKills) kills, one every \(DurationParsing.format(configuration.killEvery)), down \(DurationParsing.format(configuration.downFor))"
            : "no kills"
        ReportOutput.log(
            "rpcbench: \(configuration.replicas) replicas of \(configuration.serveExecutable.path) serve, \(kills), "
                + "victims only (no storm), \(configuration.bench.load), phases of \(self.workload.duration) after \(self.workload.warmup) warm-up"
        )
        let report = try await ReplicaBench.run(configuration, progress: progress)
        print(ReplicaBenchTable.render(report))
        let folder = try ResultsFolder.write(
            files: ["replicas.json": try report.json(), "plot.svg": Data(ReplicaBenchTable.plot(report).utf8)],
            under: self.workload.results
        )
        print("\nResults: \(folder)/  (plot.svg, replicas.json)")
        let after = report.afterRun
        if !after.drained || after.handlersInFlight != 0 || after.childrenLeft != 0 {
            ReportOutput.log("rpcbench: handlers or child processes were left after the run (see afterRun in replicas.json)")
            throw ExitCode(2)
        }
    }

    /// This executable: `/proc/self/exe` where there is one, else the path it was started by.
    static var ownExecutable: URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }
}

/// A balancing policy, as a flag value.
enum BalancingArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// ``LoadBalancingPolicy/leastLoaded``.
    case leastLoaded = "least-loaded"
    /// ``LoadBalancingPolicy/roundRobin``.
    case roundRobin = "round-robin"
    /// ``LoadBalancingPolicy/pickFirst``.
    case pickFirst = "pick-first"

    /// The runtime's value.
    var policy: LoadBalancingPolicy {
        switch self {
        case .leastLoaded: return .leastLoaded
        case .roundRobin: return .roundRobin
        case .pickFirst: return .pickFirst
        }
    }
}
