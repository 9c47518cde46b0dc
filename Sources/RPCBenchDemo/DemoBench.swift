import DeadlineRPC
import DemoTopology
import RPCBenchCore

/// `rpcbench --target demo`: the bench's victims and storm as checkouts through the demo topology's RPC gateway,
/// calm vs storm vs storm with the services' propagation off, with every server-side figure read from the
/// services' own `/stats` and `/tracked`.
package enum DemoBench {
    /// The bench defaults scaled to the demo: checkouts take tens of milliseconds and fan out to five services,
    /// so victims come at 100/s, storm calls die after 100 ms (inside the 800 ms warehouse wait, past the gateway's
    /// fan-out) or get 300 ms budgets (above the gateway's 200 ms minimum, which would shed them unstarted), and
    /// bursts stay under the services' 100-stream limit per connection. Flags given on the command line win.
    package static var defaultConfiguration: BenchConfiguration {
        var c = BenchConfiguration()
        c.load = .open(rate: 100, maxInFlight: 1_000)
        c.storm.cancelRate = 10
        c.storm.cancelAfter = .milliseconds(100)
        c.storm.deadlineRate = 10
        c.storm.deadlineBudget = .milliseconds(300)
        c.storm.burstSize = 50
        c.storm.burstCancelAfter = .milliseconds(100)
        c.storm.disconnectInterval = .seconds(1)
        c.storm.disconnectCalls = 10
        c.storm.disconnectAfter = .milliseconds(100)
        c.storm.chainRate = 4
        c.storm.chainCancelAfter = .milliseconds(100)
        c.storm.chainBudget = .milliseconds(300)
        return c
    }

    /// Starts the topology in this process — twice, propagation on and off, unless `comparePropagation` is
    /// off — runs the bench against it, stops it, and returns the report.
    package static func run(
        _ configuration: BenchConfiguration,
        settings: TopologySettings = TopologySettings(),
        progress: ProgressLine? = nil
    ) async throws -> BenchReport {
        var on = settings
        // Stragglers are what the storm produces on purpose; the report counts them, the log need not list them.
        on.logLevel = max(on.logLevel, .error)
        on.propagation = .enabled
        var off = on
        off.propagation = .disabledToReproduceLeaks
        let topologies = configuration.comparePropagation ? [on, off] : [on]
        return try await InProcessTopology.with(topologies) { endpoints in
            try await Self.run(configuration, target: DemoTarget(topologies: endpoints, label: "demo"), progress: progress)
        }
    }

    /// Runs the bench against topologies that are already running (their first topology propagates; the
    /// propagation-off phase needs a second one that does not, and is skipped without it).
    package static func run(
        _ configuration: BenchConfiguration,
        target: DemoTarget,
        progress: ProgressLine? = nil
    ) async throws -> BenchReport {
        var configuration = configuration
        let leaking = target.topologies.count > 1 ? target.topologies[1].rpc[.gateway] : nil
        if leaking == nil { configuration.comparePropagation = false }
        let connections = (0..<max(1, configuration.connections)).map { _ in
            DemoConnection(propagating: target.gateway, leaking: leaking)
        }
        let defaults = RPCServer.Configuration()
        let stack = BenchStackDescription(
            name: "DeadlineRPC",
            handlerExecutor: "global",  // The services' servers use the runtime's default, off the I/O loops.
            maxConcurrentStreams: defaults.maxConcurrentStreams
        )
        do {
            var report = try await BenchRunner.run(
                configuration,
                target: target,
                hops: DemoTarget.hops,
                connections: connections,
                connector: DemoConnector(propagating: target.gateway, leaking: leaking),
                stack: stack,
                progress: progress
            )
            for connection in connections { await connection.close() }
            let clients = connections.flatMap(\.clients)
            report.sharedConnections = SharedConnectionCount(
                clients: clients.count,
                opened: clients.reduce(0) { $0 + $1.stats.connectionsOpened }
            )
            return report
        } catch {
            for connection in connections { await connection.close() }
            throw error
        }
    }
}
