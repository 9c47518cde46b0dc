import DeadlineRPC
import Foundation

/// The library entry point of `rpcbench run`: sets up the target, runs warm-up, the calm phase, the storm and
/// the storm with propagation off, waits for the servers to settle, and returns the report.
public enum BenchRunner {
    /// Runs the bench described by `configuration` over DeadlineRPC; `progress`, when given, is updated as phases go.
    public static func run(_ configuration: BenchConfiguration, progress: ProgressLine? = nil) async throws -> BenchReport {
        switch configuration.target {
        case .embedded(let hops):
            return try await withBenchTopology(hops: hops, options: configuration.server) { registry in
                let target = EmbeddedTarget(registry: registry)
                return try await Self.runDeadlineRPC(configuration, target: target, rpcTarget: .host(target.host, port: target.port), hops: hops, progress: progress)
            }
        case .remote(let host, let port):
            let target = RemoteTarget(host: host, port: port)
            do {
                let hops = try await target.snapshot().hops.count
                let report = try await Self.runDeadlineRPC(configuration, target: target, rpcTarget: .host(host, port: port), hops: max(1, hops), progress: progress)
                await target.close()
                return report
            } catch {
                await target.close()
                throw error
            }
        case .replicas(let rpcTarget):
            let target = try await ReplicasTarget.make(rpcTarget, resolver: configuration.clientConfiguration.resolver)
            do {
                let hops = try await target.snapshot().hops.count
                let report = try await Self.runDeadlineRPC(
                    configuration,
                    target: target,
                    rpcTarget: rpcTarget,
                    hops: max(1, hops),
                    connectionsPerClient: configuration.loadBalancing == .pickFirst ? 1 : target.replicas.count,
                    progress: progress
                )
                await target.close()
                return report
            } catch {
                await target.close()
                throw error
            }
        }
    }

    /// Runs the workload over connections of another stack, which the caller opened and keeps running (they are
    /// not closed here); `connector` opens the disconnect storm's clients. `configuration.target` is not read:
    /// `target` and `hops` describe the servers.
    public static func run(
        _ configuration: BenchConfiguration,
        target: any BenchTarget,
        hops: Int,
        connections: [any BenchConnection],
        connector: any BenchConnector,
        stack: BenchStackDescription,
        progress: ProgressLine? = nil
    ) async throws -> BenchReport {
        precondition(!connections.isEmpty, "at least one connection")
        let session = BenchSession(
            configuration: configuration,
            target: target,
            hops: hops,
            clients: connections,
            connector: connector,
            stack: stack,
            progress: progress
        )
        return try await session.run(startedAt: Date().formatted(.iso8601))
    }

    /// Opens `configuration.connections` DeadlineRPC clients to `rpcTarget` (whose servers `target` reads), runs the
    /// bench over them, closes them. Each client keeps `connectionsPerClient` connections when none is lost.
    private static func runDeadlineRPC(
        _ configuration: BenchConfiguration,
        target: any BenchTarget,
        rpcTarget: Target,
        hops: Int,
        connectionsPerClient: Int = 1,
        progress: ProgressLine?
    ) async throws -> BenchReport {
        let clientConfiguration = configuration.clientConfiguration
        let clients = (0..<max(1, configuration.connections)).map { _ in
            RPCClient(target: rpcTarget, configuration: clientConfiguration)
        }
        do {
            let report = try await Self.run(
                configuration,
                target: target,
                hops: hops,
                connections: clients,
                connector: DeadlineRPCConnector(target: rpcTarget, configuration: clientConfiguration),
                stack: .deadlineRPC(configuration.server),
                progress: progress
            )
            for client in clients { await client.close() }
            var counted = report
            counted.sharedConnections = SharedConnectionCount(
                clients: clients.count * connectionsPerClient,
                opened: clients.reduce(0) { $0 + $1.stats.connectionsOpened }
            )
            return counted
        } catch {
            for client in clients { await client.close() }
            throw error
        }
    }
}
