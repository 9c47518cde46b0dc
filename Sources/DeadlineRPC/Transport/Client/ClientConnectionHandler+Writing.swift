import NIOCore
import Wire

// Moving what the scheduler holds onto the wire, and waking the streaming writers it makes room for (on the event
// loop).
extension ClientConnectionHandler {
    // MARK: Writing

    /// The context to flush on (``ConnectionFlushing``; `flushSoon()` comes from there).
    var flushContext: ChannelHandlerContext? { self.context }

    /// Writes what the scheduler can move now, and resumes the streaming writers whose queue fell to the watermark.
    func flushNow() {
        guard let context = self.context, self.state != .closed else { return }
        for streamID in self.writer.pump() where !self.writer.writerMustWait(streamID) {
            if let call = self.streams[streamID], let waiter = call.loop.writerWaiter {
                call.loop.writerWaiter = nil
                waiter.resume()
            }
        }
        // Big messages this pump finished, or streams dropped since the last flush, are freed off the loop.
        if self.writer.hasRetired { self.offload.release(self.writer.takeRetired()) }
        guard let bytes = self.writer.takePending() else { return }
        let cancels = self.unflushedCancels
        self.unflushedCancels = 0
        if cancels > 0 { LatencyTrace.mark(.cancelWritten, self, value: Int64(cancels)) }
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        if cancels > 0 { LatencyTrace.mark(.cancelWriteReturned, self) }
        if self.writer.needsAnotherFlush(writable: context.channel.isWritable) { self.flushSoon() }
    }
}
