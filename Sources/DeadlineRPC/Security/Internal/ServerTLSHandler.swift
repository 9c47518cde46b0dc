import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Sits after swift-nio-ssl's server handler: refuses a client that negotiated no `drpc/1`, hands the verified
/// client certificate to the connection as its ``PeerIdentity``, and logs and counts every refused handshake. The
/// handshake runs under the connection's preface timer (started when the connection is accepted), so a client that
/// trickles its ClientHello is closed at the same deadline as one that trickles its preface.
final class ServerTLSHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connection: ServerConnectionHandler
    private let metrics: ServerMetrics
    private let logger: Logger
    let notes = TLSVerificationNotes()
    private var handshakeDone = false
    private var counted = false
    private var receivedData = false

    init(connection: ServerConnectionHandler, metrics: ServerMetrics, logger: Logger) {
        self.connection = connection
        self.metrics = metrics
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event {
            self.connection.tlsHandshakePending = false
            guard negotiated == TLSContextFactory.alpnIdentifier else {
                self.refuse(
                    "the client negotiated no DeadlineRPC ALPN protocol (wanted `\(TLSContextFactory.alpnIdentifier)`, got \(negotiated.map { "`\($0)`" } ?? "none"))",
                    label: "no_alpn",
                    context: context
                )
                context.close(promise: nil)
                return
            }
            self.handshakeDone = true
            self.connection.peer = self.identity(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.receivedData = true
        context.fireChannelRead(data)
    }

    /// A client that completes the handshake and leaves before sending a byte has refused something only it checks
    /// (the server's name, usually): the server cannot see its reason, but logs and counts it.
    func channelInactive(context: ChannelHandlerContext) {
        if self.handshakeDone && !self.receivedData {
            self.refuse(
                "the client closed the connection right after the handshake, before its preface (it may have found the server's certificate does not name the host it wanted)",
                label: "closed_after_handshake",
                context: context
            )
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !self.handshakeDone {
            let cause = TLSFailureDescription.serverCause(error, notes: self.notes)
            self.refuse(cause.message, label: cause.label, context: context)
        }
        context.fireErrorCaught(error)
    }

    private func refuse(_ message: String, label: String, context: ChannelHandlerContext) {
        guard !self.counted else { return }
        self.counted = true
        var metadata: Logger.Metadata = ["drpc.tls_failure": "\(label)"]
        if let remote = context.channel.remoteAddress { metadata["drpc.peer"] = "\(remote)" }
        self.logger.info("TLS handshake refused: \(message)", metadata: metadata)
        self.metrics.tlsHandshakeFailed(cause: label)
    }

    /// The client certificate's identity; nil without mutual TLS (no certificate asked for).
    private func identity(context: ChannelHandlerContext) -> PeerIdentity? {
        let ssl = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        return PeerIdentity(handshakeLeaf: ssl?.peerCertificate, notes: self.notes)
    }
}
