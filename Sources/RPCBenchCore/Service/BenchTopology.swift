import DeadlineRPC
import NIOCore

/// Runs a chain of `hops` bench servers in this process — hop 1 listens on `host:port`, each hop forwards storm
/// calls to the next — calls `body` with the registry, then shuts every server down and waits for it.
///
/// The servers start from the last hop backwards, so each knows the next one's port.
public func withBenchTopology<Result: Sendable>(
    hops: Int,
    host: String = "127.0.0.1",
    port: Int = 0,
    options: BenchServerOptions = BenchServerOptions(),
    _ body: @Sendable (TopologyRegistry) async throws -> Result
) async throws -> Result {
    precondition(hops >= 1 && hops <= 255, "a chain has 1...255 hops")
    let registry = TopologyRegistry()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        do {
            var next: (host: String, port: Int)? = nil
            for hop in stride(from: hops, through: 1, by: -1) {
                let service = BenchService(
                    hop: hop,
                    nextHop: next.map { NextHopClients(host: $0.host, port: $0.port, security: options.hopClientSecurity) },
                    topology: registry
                )
                let server = RPCServer(
                    host: host,
                    port: hop == 1 ? port : 0,
                    router: service.router,
                    configuration: options.configuration
                )
                group.addTask { try await server.run() }
                let boundPort = try await server.listeningAddress.port ?? 0
                registry.register(hop: hop, port: boundPort, server: server, service: service)
                next = (host, boundPort)
            }
            let result = try await body(registry)
            registry.shutDown()
            await registry.closeClients()
            try await group.waitForAll()
            return result
        } catch {
            registry.shutDown()
            await registry.closeClients()
            group.cancelAll()
            try? await group.waitForAll()
            throw error
        }
    }
}
