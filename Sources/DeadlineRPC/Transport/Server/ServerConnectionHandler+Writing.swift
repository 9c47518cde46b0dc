import NIOCore
import Wire

// Flushing.
extension ServerConnectionHandler {
    // MARK: Writing

    /// The context to flush on (``ConnectionFlushing``; `flushSoon()` comes from there).
    var flushContext: ChannelHandlerContext? { self.context }

    /// Writes what the scheduler can move now, and resumes the streaming writers whose queue fell to the watermark.
    func flushNow() {
        guard let context = self.context, self.state != .closed else { return }
        let progressed = self.writer.pump()
        // Big messages this pump finished, or streams dropped since the last flush, are freed off the loop.
        if self.writer.hasRetired { self.offload.release(self.writer.takeRetired()) }
        if !progressed.isEmpty {
            if !self.queuedReplies.isEmpty { self.repliesWritten(progressed) }
            for streamID in progressed {
                if let stream = self.streams[streamID], let waiter = stream.writerWaiter,
                    !self.writer.writerMustWait(streamID, watermark: stream.writerWatermark)
                {
                    stream.writerWaiter = nil
                    waiter.resume()
                }
            }
        }
        guard let bytes = self.writer.takePending() else { return }
        if context.channel.isWritable {
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        } else {
            // Bytes queued behind a full write buffer: once they reach the socket the peer is reading (slowly,
            // perhaps), so the control frames counted against it are no longer piling up.
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenSuccess { [self] in self.connectionGuard.peerIsReading() }
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: written)
        }
        if self.writer.needsAnotherFlush(writable: context.channel.isWritable) { self.flushSoon() }
    }
}
