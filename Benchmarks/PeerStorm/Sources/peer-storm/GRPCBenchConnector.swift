import RPCBenchCore

/// Opens grpc-swift-2 clients of their own for the disconnect storm.
struct GRPCBenchConnector: BenchConnector {
    /// The first hop's host.
    let host: String
    /// The first hop's port.
    let port: Int
    /// The stack's settings.
    let options: GRPCStackOptions

    /// Runs `body` with a new client; closes it gracefully afterwards unless `body` closed it abruptly.
    func withConnection<Result: Sendable>(_ body: (any BenchConnection) async -> Result) async throws -> Result {
        try await withGRPCConnections(count: 1, host: self.host, port: self.port, options: self.options) { connections in
            var connection = connections[0]
            connection.failsCallsOnClose = true
            return await body(connection)
        }
    }
}
