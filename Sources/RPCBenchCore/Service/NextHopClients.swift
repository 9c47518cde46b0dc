import DeadlineRPC

/// The clients one hop uses to call the next: one that propagates deadlines and cancellation (the runtime's
/// default) and one configured with `propagation = .disabledToReproduceLeaks`, chosen per call by
/// ``BenchRequest/propagation``.
public struct NextHopClients: Sendable {
    /// Inherits the deadline and cancellation of the call being served.
    public let propagating: RPCClient
    /// Ignores them (the leak, reproduced on purpose).
    public let leaking: RPCClient

    /// Creates both clients for `host:port`; they connect on their first call.
    public init(host: String, port: Int) {
        self.propagating = RPCClient(host: host, port: port)
        var leaky = RPCClient.Configuration()
        leaky.propagation = .disabledToReproduceLeaks
        self.leaking = RPCClient(host: host, port: port, configuration: leaky)
    }

    /// Closes both clients.
    public func close() async {
        await self.propagating.close()
        await self.leaking.close()
    }
}
