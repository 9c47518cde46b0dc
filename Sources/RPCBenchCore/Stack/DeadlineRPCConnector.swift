import DeadlineRPC

/// Opens DeadlineRPC clients to one address (the disconnect storm's clients of their own).
public struct DeadlineRPCConnector: BenchConnector {
    /// The first hop's host.
    public let host: String
    /// The first hop's port.
    public let port: Int

    /// A connector for `host:port`.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Runs `body` with a new `RPCClient` (it connects on its first call) and closes it afterwards.
    public func withConnection<Result: Sendable>(_ body: (any BenchConnection) async -> Result) async throws -> Result {
        let client = RPCClient(host: self.host, port: self.port)
        let result = await body(client)
        await client.close()
        return result
    }
}
