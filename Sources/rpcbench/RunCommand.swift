import ArgumentParser
import Foundation
import RPCBenchCore

extension RPCBench {
    /// `rpcbench run` (the default): victims beside a cancellation storm, calm vs storm vs propagation off.
    struct Run: AsyncParsableCommand {
        /// The subcommand's abstract.
        static let configuration = CommandConfiguration(
            abstract: "Run victims beside a cancellation storm and report (the default command)."
        )

        // MARK: Target

        /// A remote `rpcbench serve` (host:port) instead of the embedded servers.
        @Option(help: "A remote `rpcbench serve` (host:port) instead of the embedded servers.")
        var target: String?

        /// Embedded servers in the chain, each calling the next (cancel must travel every hop).
        @Option(help: "Embedded servers in the chain, each calling the next (cancel must travel every hop).")
        var chain = 3

        /// Embedded servers: where handler tasks run (event-loop or global).
        @Option(help: "Embedded servers: where handler tasks run (event-loop or global).")
        var handlerExecutor: HandlerExecutorArgument = .global

        /// Embedded servers: streams a client may have open on one connection.
        @Option(help: "Embedded servers: streams a client may have open on one connection.")
        var maxStreams = 4_096

        // MARK: Load

        /// Open loop: victim calls per second (latency from each call's intended send time).
        @Option(help: "Open loop: victim calls per second (latency from each call's intended send time).")
        var rate = 2_000.0

        /// Closed loop with this many concurrent victim callers (replaces --rate).
        @Option(help: "Closed loop with this many concurrent victim callers (replaces --rate).")
        var concurrency: Int?

        /// Open loop: cap on victim calls in flight (a call waiting for a slot is charged the wait).
        @Option(help: "Open loop: cap on victim calls in flight (a call waiting for a slot is charged the wait).")
        var maxInflight = 1_000

        /// Client connections shared by victims and storm (calls go round-robin).
        @Option(help: "Client connections shared by victims and storm (calls go round-robin).")
        var connections = 1

        /// Request payload bytes (echoed back).
        @Option(help: "Request payload bytes (echoed back).")
        var payload = 64

        /// Victim handler service time (mean when exponential).
        @Option(help: "Victim handler service time (mean when exponential).")
        var serviceTime = DurationArgument(.zero)

        /// fixed or exponential.
        @Option(help: "fixed or exponential.")
        var serviceTimeDistribution: BenchConfiguration.ServiceTimeDistribution = .fixed

        /// How victim handlers spend their service time: spin (CPU) or park (sleep).
        @Option(help: "How victim handlers spend their service time: spin (CPU) or park (sleep).")
        var serviceWork: WorkKind = .spin

        /// Length of each measured phase.
        @Option(help: "Length of each measured phase.")
        var duration = DurationArgument(.seconds(6))

        /// Victims-only warm-up before measuring (not recorded).
        @Option(help: "Victims-only warm-up before measuring (not recorded).")
        var warmup = DurationArgument(.seconds(2))

        /// Timeout of every victim call.
        @Option(help: "Timeout of every victim call.")
        var victimTimeout = DurationArgument(.seconds(2))

        // MARK: Storm

        /// Run only the calm phase.
        @Flag(help: "Run only the calm phase.")
        var noStorm = false

        /// Calls cancelled mid-flight after --cancel-after.
        @Flag(inversion: .prefixedNo, help: "Calls cancelled mid-flight after --cancel-after.")
        var cancel = true

        /// Cancelled calls per second.
        @Option(help: "Cancelled calls per second.")
        var cancelRate = 50.0

        /// Delay before a call's task is cancelled.
        @Option(help: "Delay before a call's task is cancelled.")
        var cancelAfter = DurationArgument(.milliseconds(2))

        /// Calls whose budget is far shorter than the handler needs.
        @Flag(inversion: .prefixedNo, help: "Calls whose budget is far shorter than the handler needs.")
        var deadline = true

        /// Short-budget calls per second.
        @Option(help: "Short-budget calls per second.")
        var deadlineRate = 50.0

        /// Their budget (CallOptions(timeout:)).
        @Option(help: "Their budget (CallOptions(timeout:)).")
        var shortBudget = DurationArgument(.milliseconds(2))

        /// Bursts of calls cancelled all at once.
        @Flag(inversion: .prefixedNo, help: "Bursts of calls cancelled all at once.")
        var burst = true

        /// Calls per burst.
        @Option(help: "Calls per burst.")
        var burstSize = 1_000

        /// Time between bursts.
        @Option(help: "Time between bursts.")
        var burstInterval = DurationArgument(.seconds(2))

        /// Over how long a burst's calls are started (0: all at once); the cancel is always all at once.
        @Option(help: "Over how long a burst's calls are started (0: all at once); the cancel is always all at once.")
        var burstRamp = DurationArgument(.milliseconds(200))

        /// Delay after a burst's last call started before all of it is cancelled.
        @Option(help: "Delay after a burst's last call started before all of it is cancelled.")
        var burstCancelAfter = DurationArgument(.milliseconds(20))

        /// Clients of their own closed abruptly mid-call.
        @Flag(inversion: .prefixedNo, help: "Clients of their own closed abruptly mid-call.")
        var disconnect = true

        /// Time between disconnecting clients.
        @Option(help: "Time between disconnecting clients.")
        var disconnectInterval = DurationArgument(.milliseconds(500))

        /// Calls open on each disconnecting client.
        @Option(help: "Calls open on each disconnecting client.")
        var disconnectCalls = 20

        /// Delay before the client is closed.
        @Option(help: "Delay before the client is closed.")
        var disconnectAfter = DurationArgument(.milliseconds(20))

        /// Calls through the whole chain, alternately cancelled and short-budgeted.
        @Flag(inversion: .prefixedNo, help: "Calls through the whole chain, alternately cancelled and short-budgeted.")
        var chainStorm = true

        /// Chain calls per second.
        @Option(help: "Chain calls per second.")
        var chainRate = 10.0

        /// Delay before a chain call is cancelled.
        @Option(help: "Delay before a chain call is cancelled.")
        var chainCancelAfter = DurationArgument(.milliseconds(2))

        /// Budget of a short-budget chain call.
        @Option(help: "Budget of a short-budget chain call.")
        var chainBudget = DurationArgument(.milliseconds(2))

        /// Work a storm handler needs to finish.
        @Option(help: "Work a storm handler needs to finish.")
        var stormWork = DurationArgument(.milliseconds(50))

        /// How cancel/deadline/chain handlers work: spin (CPU slices) or park (sleep).
        @Option(help: "How cancel/deadline/chain handlers work: spin (CPU slices) or park (sleep).")
        var stormWorkKind: WorkKind = .spin

        /// Cooperative work slice (checks Task.isCancelled between slices).
        @Option(help: "Cooperative work slice (checks Task.isCancelled between slices).")
        var workUnit = DurationArgument(.microseconds(100))

        /// Run the storm again with propagation off on the hop clients.
        @Flag(inversion: .prefixedNo, help: "Run the storm again with propagation off on the hop clients.")
        var comparePropagation = true

        // MARK: Output

        /// Longest wait for handlers to return after each phase and the run.
        @Option(help: "Longest wait for handlers to return after each phase and the run.")
        var drainTimeout = DurationArgument(.seconds(10))

        /// Folder under which results/<timestamp>/ is written.
        @Option(help: "Folder under which results/<timestamp>/ is written.")
        var results = "results"

        /// No progress line.
        @Flag(help: "No progress line.")
        var quiet = false

        /// Rejects impossible flag values before anything starts.
        func validate() throws {
            guard (1...255).contains(self.chain) else { throw ValidationError("--chain must be 1...255") }
            guard self.rate > 0 else { throw ValidationError("--rate must be positive") }
            if let concurrency = self.concurrency, concurrency < 1 { throw ValidationError("--concurrency must be ≥ 1") }
            guard self.maxInflight >= 1, self.connections >= 1 else { throw ValidationError("--max-inflight and --connections must be ≥ 1") }
            guard self.payload >= 0 else { throw ValidationError("--payload must be ≥ 0") }
            guard self.duration.duration > .zero else { throw ValidationError("--duration must be positive") }
            if let target = self.target, Self.parseTarget(target) == nil {
                throw ValidationError("--target must be host:port")
            }
        }

        /// Splits `host:port`; nil when it is not one.
        static func parseTarget(_ text: String) -> (host: String, port: Int)? {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                port > 0, port < 65_536
            else { return nil }
            let host = String(text[..<colon])
            return host.isEmpty ? nil : (host, port)
        }

        /// The library configuration the flags describe.
        var benchConfiguration: BenchConfiguration {
            var c = BenchConfiguration()
            if let target = self.target, let parsed = Self.parseTarget(target) {
                c.target = .remote(host: parsed.host, port: parsed.port)
            } else {
                c.target = .embedded(hops: self.chain)
            }
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
            c.comparePropagation = self.comparePropagation
            c.server.handlerExecutor = self.handlerExecutor.executor
            c.server.maxConcurrentStreams = self.maxStreams

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
            c.storm = s
            return c
        }

        /// Runs the subcommand.
        func run() async throws {
            let configuration = self.benchConfiguration
            let progress = self.quiet ? nil : ProgressLine(live: LiveCounters())
            let where_ = self.target ?? "embedded \(self.chain)-hop chain"
            Self.log("rpcbench: \(where_), \(configuration.load), phases of \(self.duration) after \(self.warmup) warm-up")
            let report = try await BenchRunner.run(configuration, progress: progress)
            print(ReportTable.render(report))
            let folder = try ResultsFolder.write(report, plot: PercentilePlot.svg(for: report), under: self.results)
            print("\nResults: \(folder)/  (report.json, plot.svg)")
            if !report.afterRun.drained || report.afterRun.handlersInFlight != 0 {
                Self.log("rpcbench: handlers were still in flight after the run (see afterRun in report.json)")
                throw ExitCode(2)
            }
        }

        /// Writes a line to stderr.
        static func log(_ line: String) {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
