import ArgumentParser
import Foundation
import RPCBenchCore
import RPCBenchOptions

extension PeerStorm {
    /// `peer-storm run` (the default): the workload against an embedded chain of grpc-swift-2 servers.
    struct Run: AsyncParsableCommand {
        /// The subcommand's abstract.
        static let configuration = CommandConfiguration(
            abstract: "Victims beside a cancellation storm over grpc-swift-2: calm vs storm (the default command)."
        )

        /// grpc-swift-2 servers in the chain, each calling the next (cancel must travel every hop).
        @Option(help: "grpc-swift-2 servers in the chain, each calling the next (cancel must travel every hop).")
        var chain = 3

        /// How handlers learn their RPC was cancelled: task (Task.isCancelled, as users write it) or rpc-handle.
        @Option(help: "How handlers learn their RPC was cancelled: task (Task.isCancelled, as users write handlers) or rpc-handle (a child task waits on ServerContext.cancellation and cancels the work).")
        var handlerCancellation: HandlerCancellation = .task

        /// The HTTP/2 transport's flush coalescing on clients and servers (its library default: on).
        @Flag(inversion: .prefixedNo, help: "The HTTP/2 transport's flush coalescing on clients and servers (library default: on).")
        var flushCoalescing = true

        /// A few seconds at tiny rates, to check the harness works (figures mean nothing).
        @Flag(help: "A few seconds at tiny rates, to check the harness works (its figures mean nothing).")
        var smoke = false

        /// The load, storm and output flags, the same as rpcbench's.
        @OptionGroup var workload: WorkloadOptions

        /// Rejects impossible flag values.
        func validate() throws {
            guard (1...255).contains(self.chain) else { throw ValidationError("--chain must be 1...255") }
        }

        /// The library configuration the flags describe (propagation is never switched off here: a grpc-swift-2
        /// handler forwards what its code forwards).
        var benchConfiguration: BenchConfiguration {
            var c = BenchConfiguration()
            c.target = .embedded(hops: self.chain)
            self.workload.apply(to: &c)
            c.comparePropagation = false
            if self.smoke { Self.shrink(&c) }
            return c
        }

        /// Tiny rates and short phases (the same scale as rpcbench's smoke test).
        static func shrink(_ c: inout BenchConfiguration) {
            c.load = .open(rate: 200, maxInFlight: 100)
            c.warmup = .milliseconds(300)
            c.duration = .seconds(1)
            c.drainTimeout = .seconds(5)
            c.storm.cancelRate = 10
            c.storm.deadlineRate = 10
            c.storm.burstSize = 50
            c.storm.burstInterval = .milliseconds(500)
            c.storm.burstRamp = .milliseconds(20)
            c.storm.disconnectInterval = .milliseconds(500)
            c.storm.disconnectCalls = 5
            c.storm.chainRate = 10
            c.storm.cancelAfter = .milliseconds(10)
            c.storm.deadlineBudget = .milliseconds(10)
            c.storm.chainCancelAfter = .milliseconds(10)
            c.storm.chainBudget = .milliseconds(10)
            c.storm.work = .milliseconds(40)
        }

        /// Runs the bench, prints the table, writes report.json, plot.svg and connections.json.
        func run() async throws {
            let configuration = self.benchConfiguration
            let options = GRPCStackOptions(cancellation: self.handlerCancellation, flushCoalescing: self.flushCoalescing)
            let progress = self.workload.quiet ? nil : ProgressLine(live: LiveCounters())
            let watch = ConnectionWatch()
            ReportOutput.log("peer-storm: grpc-swift-2 \(self.chain)-hop chain, \(configuration.load), handler cancellation \(options.cancellation.rawValue)\(self.smoke ? ", smoke" : "")")
            let startedAt = BenchClock.now()
            let report = try await withGRPCTopology(hops: self.chain, options: options) { topology in
                try await withGRPCConnections(
                    count: configuration.connections,
                    host: topology.host,
                    port: topology.port,
                    options: options,
                    watch: watch
                ) { connections in
                    try await BenchRunner.run(
                        configuration,
                        target: topology,
                        hops: self.chain,
                        connections: connections,
                        connector: GRPCBenchConnector(host: topology.host, port: topology.port, options: options),
                        stack: options.stackDescription,
                        progress: progress
                    )
                }
            }
            let connections = SharedConnections(watch: watch, clients: configuration.connections, runStartedAt: startedAt)
            try ReportOutput.finish(
                report,
                tool: "peer-storm",
                under: self.workload.results,
                notes: ["Shared connections: \(connections.summary)"],
                extraFiles: ["connections.json": try connections.json()]
            )
        }
    }
}
