import ArgumentParser
import RPCBenchCore

/// The workload flags `rpcbench` and `peer-storm` share — victims' load, the storm, output — so both tools run the
/// same workload from the same command line.
public struct WorkloadOptions: ParsableArguments, Sendable {
    /// The defaults (as parsed from no flags).
    public init() {}

    // MARK: Load

    /// Open loop: victim calls per second (latency from each call's intended send time). Unset: the target's default.
    @Option(help: "Open loop: victim calls per second, latency from each call's intended send time (default 2000; 100 with rpcbench --target demo)")
    public var rate: Double?

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

    /// Cancelled calls per second. Unset: the target's default.
    @Option(help: "Cancelled calls per second (default 50; 10 with rpcbench --target demo)")
    public var cancelRate: Double?

    /// Delay before a call's task is cancelled. Unset: the target's default.
    @Option(help: "Delay before a call's task is cancelled (default 2ms; 100ms with rpcbench --target demo)")
    public var cancelAfter: DurationArgument?

    /// Calls whose budget is far shorter than the handler needs.
    @Flag(inversion: .prefixedNo, help: "Calls whose budget is far shorter than the handler needs.")
    public var deadline = true

    /// Short-budget calls per second. Unset: the target's default.
    @Option(help: "Short-budget calls per second (default 50; 10 with rpcbench --target demo)")
    public var deadlineRate: Double?

    /// Their budget (CallOptions(timeout:)). Unset: the target's default.
    @Option(help: "Their budget, CallOptions(timeout:) (default 2ms; 300ms with rpcbench --target demo)")
    public var shortBudget: DurationArgument?

    /// Bursts of calls cancelled all at once.
    @Flag(inversion: .prefixedNo, help: "Bursts of calls cancelled all at once.")
    public var burst = true

    /// Calls per burst. Unset: the target's default.
    @Option(help: "Calls per burst (default 1000; 50 with rpcbench --target demo)")
    public var burstSize: Int?

    /// Time between bursts.
    @Option(help: "Time between bursts.")
    public var burstInterval = DurationArgument(.seconds(2))

    /// Over how long a burst's calls are started (0: all at once); the cancel is always all at once.
    @Option(help: "Over how long a burst's calls are started (0: all at once); the cancel is always all at once.")
    public var burstRamp = DurationArgument(.milliseconds(200))

    /// Delay after a burst's last call started before all of it is cancelled. Unset: the target's default.
    @Option(help: "Delay after a burst's last call started before all of it is cancelled (default 20ms; 100ms with rpcbench --target demo)")
    public var burstCancelAfter: DurationArgument?

    /// Clients of their own closed abruptly mid-call.
    @Flag(inversion: .prefixedNo, help: "Clients of their own closed abruptly mid-call.")
    public var disconnect = true

    /// Time between disconnecting clients. Unset: the target's default.
    @Option(help: "Time between disconnecting clients (default 500ms; 1s with rpcbench --target demo)")
    public var disconnectInterval: DurationArgument?

    /// Calls open on each disconnecting client. Unset: the target's default.
    @Option(help: "Calls open on each disconnecting client (default 20; 10 with rpcbench --target demo)")
    public var disconnectCalls: Int?

    /// Delay before the client is closed. Unset: the target's default.
    @Option(help: "Delay before the client is closed (default 20ms; 100ms with rpcbench --target demo)")
    public var disconnectAfter: DurationArgument?

    /// Calls through the whole chain, alternately cancelled and short-budgeted.
    @Flag(inversion: .prefixedNo, help: "Calls through the whole chain, alternately cancelled and short-budgeted.")
    public var chainStorm = true

    /// Chain calls per second. Unset: the target's default.
    @Option(help: "Chain calls per second (default 10; 4 with rpcbench --target demo)")
    public var chainRate: Double?

    /// Delay before a chain call is cancelled. Unset: the target's default.
    @Option(help: "Delay before a chain call is cancelled (default 2ms; 100ms with rpcbench --target demo)")
    public var chainCancelAfter: DurationArgument?

    /// Budget of a short-budget chain call. Unset: the target's default.
    @Option(help: "Budget of a short-budget chain call (default 2ms; 300ms with rpcbench --target demo)")
    public var chainBudget: DurationArgument?

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
        guard (self.rate ?? 1) > 0 else { throw ValidationError("--rate must be positive") }
        if let concurrency = self.concurrency, concurrency < 1 { throw ValidationError("--concurrency must be ≥ 1") }
        guard self.maxInflight >= 1, self.connections >= 1 else { throw ValidationError("--max-inflight and --connections must be ≥ 1") }
        guard self.payload >= 0 else { throw ValidationError("--payload must be ≥ 0") }
        guard self.duration.duration > .zero else { throw ValidationError("--duration must be positive") }
    }

    /// Sets the load, storm and output fields of `c` (not its target or server options). Flags whose default
    /// depends on the target (optional here) leave `c`'s value when not given, so `c` carries the target's defaults.
    public func apply(to c: inout BenchConfiguration) {
        if let concurrency = self.concurrency {
            c.load = .closed(concurrency: concurrency)
        } else {
            var rate = 2_000.0
            if case .open(let current, _) = c.load { rate = current }
            c.load = .open(rate: self.rate ?? rate, maxInFlight: self.maxInflight)
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
        c.storm = self.storm(over: c.storm)
    }

    /// The storm the flags describe over the library's defaults (every kind off with `--no-storm`).
    public var stormConfiguration: StormConfiguration { self.storm(over: StormConfiguration()) }

    /// The storm the flags describe, with `base`'s values where a target-dependent flag was not given.
    public func storm(over base: StormConfiguration) -> StormConfiguration {
        var s = base
        s.cancel = self.cancel && !self.noStorm
        s.cancelRate = self.cancelRate ?? base.cancelRate
        s.cancelAfter = self.cancelAfter?.duration ?? base.cancelAfter
        s.deadline = self.deadline && !self.noStorm
        s.deadlineRate = self.deadlineRate ?? base.deadlineRate
        s.deadlineBudget = self.shortBudget?.duration ?? base.deadlineBudget
        s.burst = self.burst && !self.noStorm
        s.burstSize = self.burstSize ?? base.burstSize
        s.burstInterval = self.burstInterval.duration
        s.burstRamp = self.burstRamp.duration
        s.burstCancelAfter = self.burstCancelAfter?.duration ?? base.burstCancelAfter
        s.disconnect = self.disconnect && !self.noStorm
        s.disconnectInterval = self.disconnectInterval?.duration ?? base.disconnectInterval
        s.disconnectCalls = self.disconnectCalls ?? base.disconnectCalls
        s.disconnectAfter = self.disconnectAfter?.duration ?? base.disconnectAfter
        s.chain = self.chainStorm && !self.noStorm
        s.chainRate = self.chainRate ?? base.chainRate
        s.chainCancelAfter = self.chainCancelAfter?.duration ?? base.chainCancelAfter
        s.chainBudget = self.chainBudget?.duration ?? base.chainBudget
        s.work = self.stormWork.duration
        s.workKind = self.stormWorkKind
        s.workUnit = self.workUnit.duration
        return s
    }
}
