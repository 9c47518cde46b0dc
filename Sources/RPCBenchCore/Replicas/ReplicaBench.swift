import DeadlineRPC
import Foundation

/// The library entry point of `rpcbench --replicas N`: replica processes, victims on one endpoint and then through
/// the balancer over all of them, then the same while one replica at a time is killed and restarted.
///
/// Phases, each `bench.duration` at the same load: `single` (replica 0 alone, the baseline), `replicas` (every
/// replica, no kills), `kills` (every replica; one SIGKILLed every ``ReplicaBenchConfiguration/killEvery``, round
/// robin, and started again on its port after ``ReplicaBenchConfiguration/downFor``). Each client warms up first.
/// Only victims run (`rpcbench.Bench/Echo`, idempotent); the storm does not.
public enum ReplicaBench {
    /// Runs the phases and returns the report; every child process is killed before it returns or throws.
    public static func run(_ configuration: ReplicaBenchConfiguration, progress: ProgressLine? = nil) async throws -> ReplicaBenchReport {
        precondition(configuration.replicas >= 1, "at least one replica")
        let startedAt = Date().formatted(.iso8601)
        let live = progress?.live ?? LiveCounters()
        let (measured, pids) = try await ReplicaSet.with(
            count: configuration.replicas,
            executable: configuration.serveExecutable,
            startTimeout: configuration.startTimeout
        ) { set in
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let progress {
                    group.addTask { await progress.run() }
                }
                defer { group.cancelAll() }
                return try await ReplicaSession(configuration: configuration, replicas: set, live: live, progress: progress).measure()
            }
        }
        let left = pids.filter { ChildProcesses.exists($0) }.count
        return ReplicaBenchReport(
            startedAt: startedAt,
            configuration: ReplicaBenchSettings(configuration),
            phases: measured.phases,
            afterRun: ReplicaAfterRun(
                handlersInFlight: measured.handlersInFlight,
                drained: measured.drained,
                callsStartedByReplica: measured.callsStartedByReplica,
                childrenStarted: pids.count,
                childrenLeft: left
            )
        )
    }
}
