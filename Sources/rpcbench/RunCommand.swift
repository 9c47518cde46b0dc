import ArgumentParser
import DemoTopology
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

        /// A remote `rpcbench serve` (host:port); `demo`: the demo topology, in this process; `demo=HOST:PORT`: the
        /// RPC gateway of one started by `demo-services launch`.
        @Option(help: "A remote `rpcbench serve` (host:port); `demo`: the demo topology's RPC gateway, started in this process (propagation on and off); `demo=HOST:PORT`: the gateway of a topology started by `demo-services launch` (with --demo-stats).")
        var target: String?

        /// With `--target demo=…`: each RPC service's HTTP address, where its `/stats` and `/tracked` are read.
        @Option(help: ArgumentHelp("With --target demo=HOST:PORT: a service's HTTP address (repeatable; every RPC service).", valueName: "name=host:port"))
        var demoStats: [NamedEndpoint] = []

        /// With `--target demo=…`: the gateway of a second topology, with propagation off, for the comparison.
        @Option(help: "With --target demo=HOST:PORT: the RPC gateway of a second topology with propagation off (the propagation-off phase).")
        var demoOffTarget: ServiceAddress?

        /// Its services' HTTP addresses.
        @Option(help: ArgumentHelp("The --demo-off-target topology's HTTP addresses (repeatable).", valueName: "name=host:port"))
        var demoOffStats: [NamedEndpoint] = []

        /// Embedded servers in the chain, each calling the next (cancel must travel every hop).
        @Option(help: "Embedded servers in the chain, each calling the next (cancel must travel every hop).")
        var chain = 3

        /// Embedded servers: where handler tasks run (only global: the runtime never runs them on its I/O loops).
        @Option(help: "Embedded servers: where handler tasks run: global (the only choice left; handlers never run on I/O loops).")
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
                throw ValidationError("--target must be host:port, demo or demo=host:port")
            }
            if self.target?.hasPrefix("demo=") == true && self.remoteDemo == nil {
                throw ValidationError("--target demo=HOST:PORT needs the gateway's RPC address, e.g. demo=127.0.0.1:40123")
            }
            if self.remoteDemo == nil && (!self.demoStats.isEmpty || self.demoOffTarget != nil || !self.demoOffStats.isEmpty) {
                throw ValidationError("--demo-stats, --demo-off-target and --demo-off-stats go with --target demo=HOST:PORT")
            }
        }

        /// Whether the target is the demo topology (in this process or started elsewhere).
        var isDemo: Bool { self.target == "demo" || self.target?.hasPrefix("demo=") == true }

        /// The topologies of `--target demo=HOST:PORT` and its companion flags; nil for any other target.
        var remoteDemo: [TopologyEndpoints]? {
            guard let target = self.target, target.hasPrefix("demo="),
                let gateway = ServiceAddress(argument: String(target.dropFirst("demo=".count)))
            else { return nil }
            func topology(_ gateway: ServiceAddress, _ stats: [NamedEndpoint], _ label: String) -> TopologyEndpoints {
                let http = Dictionary(stats.map { ($0.service, $0.endpoint) }, uniquingKeysWith: { $1 })
                return TopologyEndpoints(propagation: label, front: http[.frontdoor] ?? gateway, http: http, rpc: [.gateway: gateway])
            }
            var topologies = [topology(gateway, self.demoStats, "on")]
            if let off = self.demoOffTarget { topologies.append(topology(off, self.demoOffStats, "off")) }
            return topologies
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
            let where_ =
                self.remoteDemo != nil
                ? "demo topology at \(self.target?.dropFirst("demo=".count) ?? "") (demo.Gateway/Checkout)"
                : self.isDemo ? "demo topology in this process (demo.Gateway/Checkout)" : self.target ?? "embedded \(self.chain)-hop chain"
            ReportOutput.log("rpcbench: \(where_), \(configuration.load), phases of \(self.workload.duration) after \(self.workload.warmup) warm-up")
            let report: BenchReport
            if let topologies = self.remoteDemo {
                report = try await DemoBench.runRemote(configuration, topologies: topologies, label: self.target ?? "demo", progress: progress)
            } else if self.isDemo {
                report = try await DemoBench.run(configuration, progress: progress)
            } else {
                report = try await BenchRunner.run(configuration, progress: progress)
            }
            try ReportOutput.finish(report, tool: "rpcbench", under: self.workload.results)
        }
    }
}
