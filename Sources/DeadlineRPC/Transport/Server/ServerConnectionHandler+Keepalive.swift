import NIOCore
import Wire

// Keepalive (``Keepalive``): a quiet client with open calls is pinged, and closed when nothing comes back.
extension ServerConnectionHandler {
    /// Checks after one interval whether the client was heard from; armed when the connection starts, again after
    /// every check (one timer per connection, never per call).
    func scheduleKeepaliveCheck(_ keepalive: Keepalive) {
        guard let context = self.context else { return }
        self.keepaliveTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(keepalive.interval.nanoseconds)) { [self] in
            self.keepaliveTimer = nil
            guard self.state != .closed else { return }
            // Only calls open are worth a probe: the idle timeout looks after connections without them.
            guard self.keepaliveProbe.intervalPassed(worthProbing: !self.streams.isEmpty || self.slots.running > 0) == .ping else {
                self.scheduleKeepaliveCheck(keepalive)
                return
            }
            self.writeControl(.ping(PingFrame(payload: UInt64(self.uptimeNow()), ack: false)))
            self.flushNow()
            self.keepaliveTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(keepalive.timeout.nanoseconds)) { [self] in
                self.keepaliveTimer = nil
                let next = self.keepaliveProbe.timeoutPassed()
                guard self.state != .closed else { return }
                guard next == .closeDead else {
                    self.scheduleKeepaliveCheck(keepalive)
                    return
                }
                self.logger.info(
                    "Closing the connection: the client sent nothing for \(keepalive.interval) and did not answer a keepalive ping within \(keepalive.timeout); its calls' handlers are cancelled",
                    metadata: ["drpc.open_calls": "\(self.streams.count)", "drpc.running_handlers": "\(self.slots.running)"]
                )
                self.metrics.keepaliveTimedOut()
                self.closeReason = .cancelled
                self.close()
            }
        }
    }

    /// The client acknowledged a `PING`: if it was the keepalive's, the wait ends now and the next interval starts
    /// (not only when the timeout would have passed).
    func keepalivePingAnswered() {
        guard let keepalive = self.configuration.keepalive, self.keepaliveProbe.acknowledged() else { return }
        self.keepaliveTimer?.cancel()
        self.scheduleKeepaliveCheck(keepalive)
    }
}
