import ArgumentParser
import Foundation
import RPCBenchCore
import RPCBenchDemo
import RPCBenchOptions

extension RPCBench {
    /// `rpcbench run` (the default): victims beside a cancellation storm, calm vs storm vs propagation off.
    struct Run: AsyncParsableCommand {
        /// The subcommand's abstract.
        static let configuration = CommandConfiguration(
            abstract: "Run victims beside a cancellation storm and report (the default command)."
        )

        // MARK: Target

        /// A remote `rpcbench serve` (host:port), or `demo`: the demo topology, in this process.
        @Option(help: "A remote `rpcbench serve` (host:port), or `demo`: the demo topology's RPC gateway, started in this process (propagation on and off).")
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

        /// The load, storm and output flags (shared with Benchmarks/PeerStorm).
        @OptionGroup var workload: WorkloadOptions

        // MARK: Propagation

        /// Run the storm again with propagation off on the hop clients.
        @Flag(inversion: .prefixedNo, help: "Run the storm again with propagation off on the hop clients.")
        var comparePropagation = true

        /// Rejects impossible flag values before anything starts.
        func validate() throws {
            guard (1...255).contains(self.chain) else { throw ValidationError("--chain must be 1...255") }
            if let target = self.target, !self.isDemo, Self.parseTarget(target) == nil {
                throw ValidationError("--target must be host:port or demo")
            }
        }

        /// Whether the target is the demo topology.
        var isDemo: Bool { self.target == "demo" }

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
            // The demo's checkouts take tens of milliseconds: its defaults are scaled to them (flags still win).
            var c = self.isDemo ? DemoBench.defaultConfiguration : BenchConfiguration()
            if let target = self.target, let parsed = Self.parseTarget(target) {
                c.target = .remote(host: parsed.host, port: parsed.port)
            } else {
                c.target = .embedded(hops: self.chain)
            }
            self.workload.apply(to: &c)
            c.comparePropagation = self.comparePropagation
            c.server.handlerExecutor = self.handlerExecutor.executor
            c.server.maxConcurrentStreams = self.maxStreams
            return c
        }

        /// Runs the subcommand.
        func run() async throws {
            let configuration = self.benchConfiguration
            let progress = self.workload.quiet ? nil : ProgressLine(live: LiveCounters())
            let where_ = self.isDemo ? "demo topology (gateway demo.Gateway/Checkout)" : self.target ?? "embedded \(self.chain)-hop chain"
            ReportOutput.log("rpcbench: \(where_), \(configuration.load), phases of \(self.workload.duration) after \(self.workload.warmup) warm-up")
            let report =
                self.isDemo
                ? try await DemoBench.run(configuration, progress: progress)
                : try await BenchRunner.run(configuration, progress: progress)
            try ReportOutput.finish(report, tool: "rpcbench", under: self.workload.results)
        }
    }
}
