import NIOCore

/// The UDP socket's end of a ``DNSResolver`` exchange: hands each datagram and error to the resolving task as an
/// event. Confined to its channel's event loop.
final class DNSDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// What the resolving task waits for.
    enum Event: Sendable {
        /// A datagram from the server (the socket is connected: the kernel drops others).
        case datagram([UInt8])
        /// The timer of this attempt fired.
        case timedOut(attempt: Int)
        /// The socket failed (ICMP port unreachable arrives as ECONNREFUSED).
        case failed(any Error)
    }

    private let sink: AsyncStream<Event>.Continuation

    init(sink: AsyncStream<Event>.Continuation) {
        self.sink = sink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        self.sink.yield(.datagram(Array(envelope.data.readableBytesView)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.sink.yield(.failed(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.sink.finish()
        context.fireChannelInactive()
    }
}
