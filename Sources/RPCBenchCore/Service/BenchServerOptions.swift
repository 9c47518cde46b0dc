import DeadlineRPC

/// How the bench's embedded servers (and `rpcbench serve`) are configured.
public struct BenchServerOptions: Sendable, Hashable {
    /// Streams a client may have open on one connection. The bench raises the runtime's default (100) so that a
    /// burst of thousands of calls on the victims' own connection is served rather than queued by the client.
    public var maxConcurrentStreams: Int = 4_096
    /// Where handler tasks run: the global executor, the runtime's default (handlers never run on its I/O loops, so
    /// a storm handler that computes cannot keep its own cancel from being read).
    public var handlerExecutor: RPCServer.HandlerExecutor = .globalConcurrent
    /// The servers' transport security (`rpcbench --tls`: TLS with a throwaway certificate).
    public var transportSecurity: ServerTransportSecurity = .plaintext
    /// How each hop's clients to the next hop connect: TLS when the servers use it, trusting their CA.
    public var hopClientSecurity: ClientTransportSecurity = .plaintext

    /// The defaults.
    public init() {}

    /// The runtime configuration these options describe.
    public var configuration: RPCServer.Configuration {
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = self.maxConcurrentStreams
        configuration.handlerExecutor = self.handlerExecutor
        configuration.transportSecurity = self.transportSecurity
        return configuration
    }
}
