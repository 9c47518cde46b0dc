import NIOCore
import Wire

/// A server that is shutting down as calls arrive: it answers every `CALL_START` with `GOAWAY(lastStreamID: 0)`
/// (the call was not processed) and closes, counting what it refused. A call that crossed the goaway on the wire
/// must be failed `unavailable` or sent again elsewhere — and the client must still be able to close.
final class GoAwayOnCallStart: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: NIO calls a channel handler only on its channel's event loop; nothing else touches `decoder`,
    // and `refused` is itself Sendable.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var decoder = FrameDecoder(limits: .default, expectPreface: true)
    private let refused: Tally?

    init(refused: Tally? = nil) {
        self.refused = refused
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        FrameEncoder.writePreface(into: &buffer)
        FrameEncoder.write(.settings(Settings.default), into: &buffer)
        context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.decoder.append(self.unwrapInboundIn(data))
        while case .frame(let frame)? = try? self.decoder.nextFrame() {
            guard case .callStart = frame else { continue }
            self.refused?.count.add(1, ordering: .relaxed)
            var buffer = context.channel.allocator.buffer(capacity: 64)
            FrameEncoder.write(.goAway(GoAway(lastStreamID: 0, code: .noError, reason: "Shutting down.")), into: &buffer)
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
    }
}
