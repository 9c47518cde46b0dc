import NIOCore

/// The bottom of one end of an in-process connection: takes the bytes its pipeline flushes and hands them to the
/// peer channel's pipeline on the shared loop, as a socket would deliver them, and closes the peer when its own
/// channel closes (the peer sees end of stream). Everything above it — framing, connection handlers, call state
/// machines — is what a TCP connection runs.
///
/// Confined to the test network's one event loop (both ends live on it).
final class InMemoryBridge: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The other end; nil once either end closed (which also breaks the reference cycle between the two).
    var peer: (any Channel)?
    private var unflushed: [ByteBuffer] = []
    private var unflushedPromises: [EventLoopPromise<Void>] = []

    init() {}

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.unflushed.append(self.unwrapOutboundIn(data))
        if let promise { self.unflushedPromises.append(promise) }
    }

    func flush(context: ChannelHandlerContext) {
        guard !self.unflushed.isEmpty else { return }
        let bytes = self.unflushed
        let promises = self.unflushedPromises
        self.unflushed = []
        self.unflushedPromises = []
        guard let peer = self.peer else {
            for promise in promises { promise.fail(ChannelError.ioOnClosedChannel) }
            return
        }
        for promise in promises { promise.succeed() }
        // A later job, as a socket's read is: the writer's stack unwinds before the peer reacts.
        context.eventLoop.execute {
            guard peer.isActive else { return }
            let pipeline = peer.pipeline.syncOperations
            for buffer in bytes { pipeline.fireChannelRead(NIOAny(buffer)) }
            pipeline.fireChannelReadComplete()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // No half-close in process: any close closes both directions, as the runtime's connections do.
        context.close(mode: .all, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let unflushed = self.unflushedPromises
        self.unflushed = []
        self.unflushedPromises = []
        for promise in unflushed { promise.fail(ChannelError.ioOnClosedChannel) }
        if let peer = self.peer {
            self.peer = nil
            // After the bytes already on their way (queued before this job), like a FIN behind the data.
            context.eventLoop.execute { peer.close(promise: nil) }
        }
        context.fireChannelInactive()
    }
}
