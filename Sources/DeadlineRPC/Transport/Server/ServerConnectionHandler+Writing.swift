import NIOCore
import Wire

// Flushing.
extension ServerConnectionHandler {
    // MARK: Writing

    /// Flushes at the end of this event-loop tick, so every response produced in the tick shares one write.
    func flushSoon() {
        guard !self.flushScheduled, let context = self.context else { return }
        self.flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            self.flushScheduled = false
            self.flushNow()
        }
    }

    func flushNow() {
        guard let context = self.context, self.state != .closed else { return }
        if self.scheduler.hasQueuedData && self.scheduler.writable {
            let progressed = self.scheduler.pump(budget: 64 * 1024)
            if !self.queuedReplies.isEmpty { self.repliesWritten(progressed) }
            for streamID in progressed {
                if let stream = self.streams[streamID], let waiter = stream.writerWaiter,
                    self.scheduler.queuedBytes(of: streamID) <= Self.writerWatermark
                {
                    stream.writerWaiter = nil
                    waiter.resume()
                }
            }
        }
        guard self.scheduler.hasPendingBytes else { return }
        if context.channel.isWritable {
            context.writeAndFlush(self.wrapOutboundOut(self.scheduler.takePending()), promise: nil)
        } else {
            // Bytes queued behind a full write buffer: once they reach the socket the peer is reading (slowly,
            // perhaps), so the control frames counted against it are no longer piling up.
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenSuccess { [self] in self.connectionGuard.peerIsReading() }
            context.writeAndFlush(self.wrapOutboundOut(self.scheduler.takePending()), promise: written)
        }
        if self.scheduler.hasQueuedData && context.channel.isWritable { self.flushSoon() }
    }
}
