import DeadlineRPC

/// Runs `depth` servers on 127.0.0.1 in a chain, built from the last hop up so that each knows its downstream's
/// port: `hop(index, downstreamPort, &clients)` returns server `index`'s router (`downstreamPort` is nil for the
/// last hop) and appends the clients it makes, closed after `body`. `body` gets a client of the first server and
/// the servers, first hop first. Every server is stopped and awaited before it returns; when `body` throws, the
/// servers are shut down and the error rethrown.
func withServerChain<T: Sendable>(
    depth: Int,
    serverConfiguration: RPCServer.Configuration = RPCServer.Configuration(),
    hop: (_ index: Int, _ downstreamPort: Int?, _ clients: inout [RPCClient]) throws -> Router,
    body: @Sendable (_ top: RPCClient, _ servers: [RPCServer]) async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var servers: [RPCServer] = []
        var clients: [RPCClient] = []
        var nextPort: Int? = nil
        for index in stride(from: depth - 1, through: 0, by: -1) {
            let router = try hop(index, nextPort, &clients)
            let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: serverConfiguration)
            servers.insert(server, at: 0)
            group.addTask { try await server.run() }
            nextPort = try await server.listeningAddress.port!
        }
        let top = RPCClient(host: "127.0.0.1", port: nextPort!)
        let result: T
        do {
            result = try await body(top, servers)
        } catch {
            for server in servers { server.beginGracefulShutdown() }
            throw error
        }
        await top.close()
        for client in clients { await client.close() }
        for server in servers { server.beginGracefulShutdown() }
        try await group.waitForAll()
        return result
    }
}
