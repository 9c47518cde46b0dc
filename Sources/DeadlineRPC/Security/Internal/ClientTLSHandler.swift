import NIOCore
import NIOSSL
import NIOTLS

/// Sits after swift-nio-ssl's client handler: refuses a server that negotiated no `drpc/1`, hands the server's
/// verified certificate to the connection (its calls' ``ClientResponse/peer``), and turns TLS errors into an
/// `unavailable` ``RPCError`` naming the cause, which the connection reports to its calls.
final class ClientTLSHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let endpoint: String
    private let serverName: String?
    private let connection: ClientConnectionHandler
    let notes = TLSVerificationNotes()
    private var reported = false

    init(endpoint: String, serverName: String?, connection: ClientConnectionHandler) {
        self.endpoint = endpoint
        self.serverName = serverName
        self.connection = connection
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event,
            negotiated != TLSContextFactory.alpnIdentifier
        {
            let got = negotiated.map { "`\($0)`" } ?? "none"
            self.report(
                context: context,
                RPCError(code: .unavailable, message: "TLS handshake failed: the server negotiated no DeadlineRPC ALPN protocol (wanted `\(TLSContextFactory.alpnIdentifier)`, got \(got)); it is not a DeadlineRPC TLS server")
            )
            context.close(promise: nil)
            return
        }
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let ssl = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
            self.connection.serverIdentity = PeerIdentity(handshakeLeaf: ssl?.peerCertificate, notes: self.notes)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is RPCError {
            context.fireErrorCaught(error)
            return
        }
        let message = TLSFailureDescription.clientMessage(error, endpoint: self.endpoint, serverName: self.serverName, notes: self.notes)
        self.report(context: context, RPCError(code: .unavailable, message: message, cause: error))
    }

    /// Only the first error counts: swift-nio-ssl may follow it with a close-time error that would hide the cause.
    private func report(context: ChannelHandlerContext, _ error: RPCError) {
        guard !self.reported else { return }
        self.reported = true
        context.fireErrorCaught(error)
    }
}
