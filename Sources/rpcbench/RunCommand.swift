import ArgumentParser
import DeadlineRPC
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

        /// Remote `rpcbench serve` replicas in DeadlineRPC's target syntax (`host:port`, `host:port,host:port,…`,
        /// `dns:///name:port`); `demo`: the demo topology, in this process; `demo=HOST:PORT`: the RPC gateway of one
        /// started by `demo-services launch`.
        @Option(help: "Remote `rpcbench serve` replicas: host:port, a list host:port,host:port,… or dns:///name:port (several endpoints go through the balancer, see --balancing); `demo`: the demo topology's RPC gateway, started in this process (propagation on and off); `demo=HOST:PORT`: the gateway of a topology started by `demo-services launch` (with --demo-stats).")
        var target: String?

        /// How the bench's clients pick among a multi-endpoint target's replicas.
        @Option(help: "How clients pick among several endpoints (a --target list or DNS name, --replicas): least-loaded, round-robin or pick-first.")
        var balancing: BalancingArgument = .leastLoaded

        /// Whether the bench's clients retry through a `RetryInterceptor` (victims are idempotent); nil: on for
        /// several endpoints, off otherwise.
        @Flag(inversion: .prefixedNo, help: "Victims go through a RetryInterceptor, so one that failed `unavailable` is sent again, to another replica (default: on with several endpoints or --replicas, off otherwise).")
        var retry: Bool?

        // MARK: Replicas

        /// Replica chaos: this many `rpcbench serve` children on 127.0.0.1, one killed every `--kill-every`.
        @Option(help: "Start N `rpcbench serve` replicas (child processes on 127.0.0.1) and measure victims on one of them, on all of them through the balancer, and while one at a time is killed (SIGKILL) and restarted (instead of --target; no storm).")
        var replicas: Int?

        /// With `--replicas`: time between kills; 0 skips the kills phase.
        @Option(help: "With --replicas: time between kills, round robin over the replicas; 0: no kills phase (default 3s)")
        var killEvery: DurationArgument?

        /// With `--replicas`: how long a killed replica stays down before it is started again.
        @Option(help: "With --replicas: how long a killed replica stays down before it is started again on its port (default 1s)")
        var downFor: DurationArgument?

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

        // MARK: TLS

        /// TLS on every connection of the embedded chain (`--transport tls`).
        @Flag(help: "TLS on every connection of the embedded chain: a throwaway CA and server certificate made at start, checked by name by every client (same as --transport tls).")
        var tls = false

        /// Plaintext, TLS, or both one after the other with a side-by-side table.
        @Option(help: "The embedded chain's connections: plaintext, tls, or both (the whole run over plaintext, then over TLS, then the two side by side). Default: plaintext.")
        var transport: TransportChoice?

        // MARK: Propagation

        /// Run the storm again with propagation off on the hop clients.
        @Flag(inversion: .prefixedNo, help: "Run the storm again with propagation off on the hop clients.")
        var comparePropagation = true

        /// Rejects impossible flag values before anything starts.
        func validate() throws {
            guard (1...255).contains(self.chain) else { throw ValidationError("--chain must be 1...255") }
            try self.validateTransport()
            if let target = self.target, !self.isDemo {
                _ = try Self.parseTarget(target)
            }
            if let replicas = self.replicas {
                guard (2...16).contains(replicas) else { throw ValidationError("--replicas must be 2...16") }
                guard self.target == nil else {
                    throw ValidationError("--replicas starts replicas of its own; it does not go with --target")
                }
            } else if self.killEvery != nil || self.downFor != nil {
                throw ValidationError("--kill-every and --down-for go with --replicas")
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

        /// A `--target` other than the demo's: one `host:port` stays a single remote server, as before; a list of
        /// several or a DNS name is a set of replicas behind the balancer. Throws a validation error with the
        /// reason for anything else (port 0 included: no server listens there).
        static func parseTarget(_ text: String) throws -> BenchConfiguration.Target {
            let target: DeadlineRPC.Target
            do {
                target = try DeadlineRPC.Target(parsing: text)
            } catch let error as TargetParseError {
                throw ValidationError("--target: \(error.description); expected host:port, host:port,host:port,…, dns:///name:port, demo or demo=host:port")
            }
            switch target.kind {
            case .endpoints(let endpoints):
                if let zero = endpoints.first(where: { $0.port == 0 }) {
                    throw ValidationError("--target: \(zero) has port 0, where no server listens")
                }
                if endpoints.count == 1 { return .remote(host: endpoints[0].host, port: endpoints[0].port) }
                return .replicas(target)
            case .dns(_, let port):
                guard port > 0 else { throw ValidationError("--target: \(target) has port 0, where no server listens") }
                return .replicas(target)
            }
        }

        /// Whether the target has several endpoints (a list or a DNS name).
        var isMultiEndpoint: Bool {
            guard let target = self.target, !self.isDemo, case .replicas = try? Self.parseTarget(target) else { return false }
            return true
        }

        /// The library configuration the flags describe.
        var benchConfiguration: BenchConfiguration {
            // The demo's checkouts take tens of milliseconds: its defaults are scaled to them (flags still win).
            var c = self.isDemo ? DemoBench.defaultConfiguration : BenchConfiguration()
            if let target = self.target, !self.isDemo, let parsed = try? Self.parseTarget(target) {
                c.target = parsed
            } else {
                c.target = .embedded(hops: self.chain)
            }
            c.loadBalancing = self.balancing.policy
            c.retry = self.retry ?? (self.isMultiEndpoint || self.replicas != nil)
            self.workload.apply(to: &c)
            c.comparePropagation = self.comparePropagation
            c.server.handlerExecutor = self.handlerExecutor.executor
            c.server.maxConcurrentStreams = self.maxStreams
            return c
        }

        /// Runs the subcommand.
        func run() async throws {
            if self.replicas != nil {
                try await self.runReplicas()
                return
            }
            if self.transportChoice != .plaintext {
                try await self.runOverTLS()
                return
            }
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
