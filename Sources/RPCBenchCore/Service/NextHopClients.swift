import DeadlineRPC

/// The clients one hop uses to call the next: one that propagates deadlines and cancellation (the runtime's
/// default) and one configured with `propagation = .disabledToReproduceLeaks`, chosen per call by
/// ``BenchRequest/propagation``.
public struct NextHopClients: Sendable {
    /// Inherits the deadline and cancellation of the call being served.
    public let propagating: RPCClient
    /// Ignores them (the leak, reproduced on purpose).
    public let leaking: RPCClient

    /// Creates both clients for `host:port`, secured by `security`; they connect on their first call.
    public init(host: String, port: Int, security: ClientTransportSecurity = .plaintext) {
        var configuration = RPCClient.Configuration()
        configuration.transportSecurity = security
        self.propagating = RPCClient(host: host, port: port, configuration: configuration)
        var leaky = configuration
        leaky.propagation = .disabledToReproduceLeaks
        self.leaking = RPCClient(host: host, port: port, configuration: leaky)
    }

    /// Closes both clients.
    public func close() async {
        await self.propagating.close()
        await self.leaking.close()
    }
}
