import DeadlineRPC

/// Opens DeadlineRPC clients to the bench's target (the disconnect storm's clients of their own).
public struct DeadlineRPCConnector: BenchConnector {
    /// What the clients reach: one address, a list of replicas or a DNS name.
    public let target: Target
    /// The clients' configuration (balancing, interceptors).
    public let configuration: RPCClient.Configuration

    /// A connector for `host:port`.
    public init(host: String, port: Int) {
        self.init(target: .host(host, port: port))
    }

    /// A connector for any target, with `configuration`.
    public init(target: Target, configuration: RPCClient.Configuration = RPCClient.Configuration()) {
        self.target = target
        self.configuration = configuration
    }

    /// The first hop's host (a list's first host, a DNS target's name).
    public var host: String {
        switch self.target.kind {
        case .endpoints(let endpoints): return endpoints.first?.host ?? ""
        case .dns(let host, _): return host
        }
    }

    /// The first hop's port (a list's first port).
    public var port: Int {
        switch self.target.kind {
        case .endpoints(let endpoints): return endpoints.first?.port ?? 0
        case .dns(_, let port): return port
        }
    }

    /// Runs `body` with a new `RPCClient` (it connects on its first call) and closes it afterwards.
    public func withConnection<Result: Sendable>(_ body: (any BenchConnection) async -> Result) async throws -> Result {
        let client = RPCClient(target: self.target, configuration: self.configuration)
        let result = await body(client)
        await client.close()
        return result
    }
}
