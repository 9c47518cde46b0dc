import NIOCore

// In-process connections (DeadlineRPCTesting): the test network pairs a channel with an in-process server's
// instead of a TCP connect; the handler on it, and everything after, is the TCP path's.
extension ClientConnectionManager {
    /// Opens `endpoint`'s connection through `connector` (no TLS: in-process channels carry plain frames); ready
    /// once the server's settings arrive, as over TCP.
    func openInProcess(_ endpoint: EndpointConnection, via connector: any InProcessConnecting) {
        endpoint.reconnectTimer?.cancel()
        endpoint.reconnectTimer = nil
        let connected = connector.connect(to: endpoint.endpoint, on: self.eventLoop) { [self] channel in
            let handler = ClientConnectionHandler(configuration: self.configuration, manager: self)
            handler.endpoint = endpoint
            endpoint.attempt = handler
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        connected.whenFailure { [self] error in
            endpoint.attempt = nil
            self.connectFailed(endpoint, "\(error)")
        }
    }
}
