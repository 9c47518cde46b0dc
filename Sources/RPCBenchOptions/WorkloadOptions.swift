import ArgumentParser
import RPCBenchCore

/// The workload flags `rpcbench` and `peer-storm` share — victims' load, the storm, output — so both tools run the
/// same workload from the same command line.
public struct WorkloadOptions: ParsableArguments, Sendable {
    /// The defaults (as parsed from no flags).
    public init() {}

    // MARK: Load

    /// Open loop: victim calls per second (latency from each call's intended send time).
    @Option(help: "Open loop: victim calls per second (latency from each call's intended send time).")
    public var rate = 2_000.0

    /// Closed loop with this many concurrent victim callers (replaces --rate).
    @Option(help: "Closed loop with this many concurrent victim callers (replaces --rate).")
    public var concurrency: Int?

    /// Open loop: cap on victim calls in flight (a call waiting for a slot is charged the wait).
    @Option(help: "Open loop: cap on victim calls in flight (a call waiting for a slot is charged the wait).")
    public var maxInflight = 1_000

    /// Client connections shared by victims and storm (calls go round-robin).
    @Option(help: "Client connections shared by victims and storm (calls go round-robin).")
    public var connections = 1

    /// Request payload bytes (echoed back).
    @Option(help: "Request payload bytes (echoed back).")
    public var payload = 64

    /// Victim handler service time (mean when exponential).
    @Option(help: "Victim handler service time (mean when exponential).")
    public var serviceTime = DurationArgument(.zero)

    /// fixed or exponential.
    @Option(help: "fixed or exponential.")
    public var serviceTimeDistribution: BenchConfiguration.ServiceTimeDistribution = .fixed

    /// How victim handlers spend their service time: spin (CPU) or park (sleep).
    @Option(help: "How victim handlers spend their service time: spin (CPU) or park (sleep).")
    public var serviceWork: WorkKind = .spin

    /// Length of each measured phase.
    @Option(help: "Length of each measured phase.")
    public var duration = DurationArgument(.seconds(6))

    /// Victims-only warm-up before measuring (not recorded).
    @Option(help: "Victims-only warm-up before measuring (not recorded).")
    public var warmup = DurationArgument(.seconds(2))

    /// Timeout of every victim call.
    @Option(help: "Timeout of every victim call.")
    public var victimTimeout = DurationArgument(.seconds(2))

    // MARK: Storm

    /// Run only the calm phase.
    @Flag(help: "Run only the calm phase.")
    public var noStorm = false

    /// Calls cancelled mid-flight after --cancel-after.
    @Flag(inversion: .prefixedNo, help: "Calls cancelled mid-flight after --cancel-after.")
    public var cancel = true

    /// Cancelled calls per second.
    @Option(help: "Cancelled calls per second.")
    public var cancelRate = 50.0

    /// Delay before a call's task is cancelled.
    @Option(help: "Delay before a call's task is cancelled.")
    public var cancelAfter = DurationArgument(.milliseconds(2))

    /// Calls whose budget is far shorter than the handler needs.
    @Flag(inversion: .prefixedNo, help: "Calls whose budget is far shorter than the handler needs.")
    public var deadline = true

    /// Short-budget calls per second.
    @Option(help: "Short-budget calls per second.")
    public var deadlineRate = 50.0

    /// Their budget (CallOptions(timeout:)).
    @Option(help: "Their budget (CallOptions(timeout:)).")
    public var shortBudget = DurationArgument(.milliseconds(2))

    /// Bursts of calls cancelled all at once.
    @Flag(inversion: .prefixedNo, help: "Bursts of calls cancelled all at once.")
    public var burst = true

    /// Calls per burst.
    @Option(help: "Calls per burst.")
    public var burstSize = 1_000

    /// Time between bursts.
    @Option(help: "Time between bursts.")
    public var burstInterval = DurationArgument(.seconds(2))

    /// Over how long a burst's calls are started (0: all at once); the cancel is always all at once.
    @Option(help: "Over how long a burst's calls are started (0: all at once); the cancel is always all at once.")
    public var burstRamp = DurationArgument(.milliseconds(200))

    /// Delay after a burst's last call started before all of it is cancelled.
    @Option(help: "Delay after a burst's last call started before all of it is cancelled.")
    public var burstCancelAfter = DurationArgument(.milliseconds(20))

    /// Clients of their own closed abruptly mid-call.
    @Flag(inversion: .prefixedNo, help: "Clients of their own closed abruptly mid-call.")
    public var disconnect = true

    /// Time between disconnecting clients.
    @Option(help: "Time between disconnecting clients.")
    public var disconnectInterval = DurationArgument(.milliseconds(500))

    /// Calls open on each disconnecting client.
    @Option(help: "Calls open on each disconnecting client.")
    public var disconnectCalls = 20

    /// Delay before the client is closed.
    @Option(help: "Delay before the client is closed.")
    public var disconnectAfter = DurationArgument(.milliseconds(20))

    /// Calls through the whole chain, alternately cancelled and short-budgeted.
    @Flag(inversion: .prefixedNo, help: "Calls through the whole chain, alternately cancelled and short-budgeted.")
    public var chainStorm = true

    /// Chain calls per second.
    @Option(help: "Chain calls per second.")
    public var chainRate = 10.0

    /// Delay before a chain call is cancelled.
    @Option(help: "Delay before a chain call is cancelled.")
    public var chainCancelAfter = DurationArgument(.milliseconds(2))

    /// Budget of a short-budget chain call.
    @Option(help: "Budget of a short-budget chain call.")
    public var chainBudget = DurationArgument(.milliseconds(2))

    /// Work a storm handler needs to finish.
    @Option(help: "Work a storm handler needs to finish.")
    public var stormWork = DurationArgument(.milliseconds(50))

    /// How cancel/deadline/chain handlers work: spin (CPU slices) or park (sleep).
    @Option(help: "How cancel/deadline/chain handlers work: spin (CPU slices) or park (sleep).")
    public var stormWorkKind: WorkKind = .spin

    /// Cooperative work slice (checks Task.isCancelled between slices).
    @Option(help: "Cooperative work slice (checks Task.isCancelled between slices).")
    public var workUnit = DurationArgument(.microseconds(100))

    // MARK: Output

    /// Longest wait for handlers to return after each phase and the run.
    @Option(help: "Longest wait for handlers to return after each phase and the run.")
    public var drainTimeout = DurationArgument(.seconds(10))

    /// Folder under which results/<timestamp>/ is written.
    @Option(help: "Folder under which results/<timestamp>/ is written.")
    public var results = "results"

    /// No progress line.
    @Flag(help: "No progress line.")
    public var quiet = false

    /// Rejects impossible values before anything starts.
    public func validate() throws {
        guard self.rate > 0 else { throw ValidationError("--rate must be positive") }
        if let concurrency = self.concurrency, concurrency < 1 { throw ValidationError("--concurrency must be ≥ 1") }
        guard self.maxInflight >= 1, self.connections >= 1 else { throw ValidationError("--max-inflight and --connections must be ≥ 1") }
        guard self.payload >= 0 else { throw ValidationError("--payload must be ≥ 0") }
        guard self.duration.duration > .zero else { throw ValidationError("--duration must be positive") }
    }

    /// Sets the load, storm and output fields of `c` (not its target or server options).
    public func apply(to c: inout BenchConfiguration) {
        if let concurrency = self.concurrency {
            c.load = .closed(concurrency: concurrency)
        } else {
            c.load = .open(rate: self.rate, maxInFlight: self.maxInflight)
        }
        c.connections = self.connections
        c.payloadBytes = self.payload
        c.serviceTime = self.serviceTime.duration
        c.serviceTimeDistribution = self.serviceTimeDistribution
        c.serviceWork = self.serviceWork
        c.warmup = self.warmup.duration
        c.duration = self.duration.duration
        c.victimTimeout = self.victimTimeout.duration
        c.drainTimeout = self.drainTimeout.duration
        c.storm = self.stormConfiguration
    }

    /// The storm the flags describe (every kind off with `--no-storm`).
    public var stormConfiguration: StormConfiguration {
        var s = StormConfiguration()
        s.cancel = self.cancel && !self.noStorm
        s.cancelRate = self.cancelRate
        s.cancelAfter = self.cancelAfter.duration
        s.deadline = self.deadline && !self.noStorm
        s.deadlineRate = self.deadlineRate
        s.deadlineBudget = self.shortBudget.duration
        s.burst = self.burst && !self.noStorm
        s.burstSize = self.burstSize
        s.burstInterval = self.burstInterval.duration
        s.burstRamp = self.burstRamp.duration
        s.burstCancelAfter = self.burstCancelAfter.duration
        s.disconnect = self.disconnect && !self.noStorm
        s.disconnectInterval = self.disconnectInterval.duration
        s.disconnectCalls = self.disconnectCalls
        s.disconnectAfter = self.disconnectAfter.duration
        s.chain = self.chainStorm && !self.noStorm
        s.chainRate = self.chainRate
        s.chainCancelAfter = self.chainCancelAfter.duration
        s.chainBudget = self.chainBudget.duration
        s.work = self.stormWork.duration
        s.workKind = self.stormWorkKind
        s.workUnit = self.workUnit.duration
        return s
    }
}
