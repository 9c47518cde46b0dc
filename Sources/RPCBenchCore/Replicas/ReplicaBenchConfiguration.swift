import DeadlineRPC
import Foundation

/// A replica-chaos run (`rpcbench --replicas N --kill-every D`): N `rpcbench serve` children, victims through the
/// balancer while one replica at a time is SIGKILLed and restarted, beside the same load on a single endpoint.
public struct ReplicaBenchConfiguration: Sendable {
    /// Replica processes.
    public var replicas = 3
    /// Time between kills in the `kills` phase (the first comes this long after the phase starts); zero skips the
    /// phase.
    public var killEvery: Duration = .seconds(3)
    /// How long a killed replica stays down before it is started again on its port.
    public var downFor: Duration = .seconds(1)
    /// The `rpcbench` executable whose `serve` subcommand the replicas run.
    public var serveExecutable: URL
    /// The longest wait for a replica to print that it listens.
    public var startTimeout: Duration = .seconds(30)
    /// The victims' load, payload, service time, warm-up, phase length, timeout, clients (`connections`), drain
    /// timeout, balancing policy and retry switch; its target and storm are not used.
    public var bench: BenchConfiguration

    /// The defaults, replicas running `serveExecutable serve`; victims retry (`bench.retry`).
    public init(serveExecutable: URL) {
        self.serveExecutable = serveExecutable
        var bench = BenchConfiguration()
        bench.retry = true
        self.bench = bench
    }

    /// Kills the `kills` phase makes: one every ``killEvery`` strictly inside the phase (none when it is zero).
    public var plannedKills: Int {
        let every = self.killEvery.benchNanoseconds
        guard every > 0 else { return 0 }
        return Int((self.bench.duration.benchNanoseconds - 1) / every)
    }
}
