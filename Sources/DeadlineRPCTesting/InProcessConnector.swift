import DeadlineRPC
import NIOCore
import NIOEmbedded

/// Opens a client's connections inside a ``TestNetwork``: a pair of channels on the network's loop, joined by
/// ``InMemoryBridge``s, whose server end the named in-process server accepts as it accepts a socket.
struct InProcessConnector: InProcessConnecting {
    let network: TestNetwork
    /// What both ends report as their peer's address (a label: no socket exists).
    static let address = try! SocketAddress(unixDomainSocketPath: "/in-process")

    func connect(
        to endpoint: Endpoint,
        on eventLoop: any EventLoop,
        initialize: @escaping @Sendable (any Channel) throws -> Void
    ) -> EventLoopFuture<any Channel> {
        let loop = self.network.loop
        guard let server = self.network.server(named: endpoint.host) else {
            return eventLoop.makeFailedFuture(TestNetworkError.noSuchServer(endpoint.host))
        }
        precondition(eventLoop === loop, "An in-process client runs on its test network's loop")
        return loop.flatSubmit {
            let clientChannel = NIOAsyncTestingChannel(loop: loop)
            let serverChannel = NIOAsyncTestingChannel(loop: loop)
            let clientBridge = InMemoryBridge()
            let serverBridge = InMemoryBridge()
            clientBridge.peer = serverChannel
            serverBridge.peer = clientChannel
            do {
                try clientChannel.pipeline.syncOperations.addHandler(clientBridge)
                try serverChannel.pipeline.syncOperations.addHandler(serverBridge)
                try server.acceptInProcess(serverChannel)
                try initialize(clientChannel)
            } catch {
                clientBridge.peer = nil
                serverBridge.peer = nil
                clientChannel.close(promise: nil)
                serverChannel.close(promise: nil)
                return loop.makeFailedFuture(error)
            }
            // The server end first: its preface and settings are then the first bytes the client reads.
            let address = Self.address
            return serverChannel.connect(to: address).flatMap {
                clientChannel.connect(to: address)
            }.map { clientChannel as any Channel }
        }
    }
}
