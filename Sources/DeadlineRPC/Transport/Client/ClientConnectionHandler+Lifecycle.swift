import NIOCore
import Wire

// Keepalive pings, protocol errors, loss of the connection and closing it (on the event loop).
extension ClientConnectionHandler {
    // MARK: Liveness

    /// Checks each keepalive interval whether the server was heard from; a connection quiet for a whole interval is
    /// pinged, and closed when nothing comes back within the timeout (its calls fail `unavailable`).
    func scheduleKeepalive() {
        guard let keepalive = self.configuration.keepalive, let interval = self.manager.keepaliveInterval, let context = self.context else { return }
        self.keepaliveTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(interval.nanoseconds)) { [self] in
            guard self.state == .ready || self.state == .draining else { return }
            // A client probes any quiet connection, calls open or not: an idle one may be picked next.
            guard self.keepaliveProbe.intervalPassed(worthProbing: true) == .ping else {
                self.scheduleKeepalive()
                return
            }
            let now = Int64(clamping: context.eventLoop.now.uptimeNanoseconds)
            self.writer.scheduler.writeControl(.ping(PingFrame(payload: UInt64(bitPattern: now), ack: false)))
            self.flushNow()
            self.pingTimeoutTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(keepalive.timeout.nanoseconds)) { [self] in
                self.pingTimeoutTimer = nil
                guard self.keepaliveProbe.timeoutPassed() == .closeDead else {
                    // Bytes came, if not the acknowledgement yet: alive.
                    self.scheduleKeepalive()
                    return
                }
                self.configuration.logger.info(
                    "Closing the connection: the server sent nothing for \(interval) and did not answer a keepalive ping within \(keepalive.timeout)",
                    metadata: ["drpc.open_calls": "\(self.streams.count)"]
                )
                self.manager.stats.recordKeepaliveTimeout()
                self.closeError = RPCError(code: .unavailable, message: "The server did not answer a keepalive ping within \(keepalive.timeout); the connection is considered dead.")
                context.close(promise: nil)
            }
        }
    }

    // MARK: Closing

    /// The server broke the protocol: `GOAWAY` with the reason, close, fail every open call `unavailable`.
    func connectionError(_ error: WireError) {
        guard self.state != .closed, let context = self.context else { return }
        self.configuration.logger.debug("Closing connection: \(error)")
        let bytes = self.writer.goAway(error, lastStreamID: 0)
        self.closeError = RPCError(code: .unavailable, message: "The connection was closed because the server broke the protocol: \(error.message)")
        self.state = .closed
        // Unlike the server, waits for the write even when the server does not read: keepalive bounds that.
        ConnectionWriter.writeThenClose(bytes, context: context, closeIfBlocked: false)
        self.failAll()
    }

    /// Ends every open call with the connection's error (or "connection lost").
    func failAll() {
        let error = self.closeError ?? RPCError(code: .unavailable, message: "The connection to the server was lost.")
        for call in Array(self.streams.values) {
            self.perform(call.loop.machine.connectionClosed(error.status), call: call)
        }
    }


    /// Whether the channel has closed and the manager was told (nothing about this connection is pending).
    var hasClosed: Bool { self.closedOnce }

    /// The channel closed (once): timers stop, calls fail, the manager is told, the context cycle is broken.
    func connectionClosed() {
        guard !self.closedOnce else { return }
        self.closedOnce = true
        self.state = .closed
        self.keepaliveTimer?.cancel()
        self.pingTimeoutTimer?.cancel()
        self.failAll()
        self.manager.connectionClosed(self, error: self.closeError)
        self.context = nil  // Breaks the handler ↔ context cycle: nothing runs on this connection any more.
    }

    /// Takes no new calls; closes once the open ones end.
    func retire() {
        if self.state == .ready { self.state = .draining }
        if self.streams.isEmpty { self.context?.close(promise: nil) }
    }

    /// Closes the connection now (client shutdown): open calls fail `unavailable`.
    func close() {
        self.context?.close(promise: nil)
    }
}
