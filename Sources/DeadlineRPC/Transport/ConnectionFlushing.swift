import NIOCore

/// A connection handler that writes through a ``ConnectionWriter``: both roles flush the same way, once per
/// event-loop tick. Composition, not a base class: each handler keeps its own ``flushNow()`` (what it resumes after a
/// write differs) and gets ``flushSoon()`` from here.
protocol ConnectionFlushing: AnyObject {
    /// The connection's write side.
    var writer: ConnectionWriter { get set }
    /// The channel's context while the handler is in an open pipeline; nil once it is gone.
    var flushContext: ChannelHandlerContext? { get }
    /// Writes what can be written now.
    func flushNow()
}

extension ConnectionFlushing {
    /// Flushes at the end of this event-loop tick, so every frame produced in the tick shares one write.
    func flushSoon() {
        guard let context = self.flushContext, self.writer.requestFlushSoon() else { return }
        context.eventLoop.assumeIsolated().execute {
            self.writer.scheduledFlushRuns()
            self.flushNow()
        }
    }
}
