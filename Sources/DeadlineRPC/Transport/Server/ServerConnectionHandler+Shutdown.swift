import NIOCore
import Wire

// Ending calls and the connection: cancel, straggler, release, drain, close.
extension ServerConnectionHandler {
    func cancelHandler(_ stream: ServerStream, reason: CancelReason) {
        if !stream.machine.isWindingDown {
            self.deadlines.remove(stream)  // Its deadline; an ended call's straggler check stays queued.
        }
        stream.context.control.recordCancel(reason)
        // Only streaming calls have readers or writers to fail; a unary call's cancel makes no error at all.
        if stream.requests != nil || stream.writerWaiter != nil {
            let error = RPCError.cancelled(reason)
            stream.requests?.finish(error)
            if let waiter = stream.writerWaiter {
                stream.writerWaiter = nil
                waiter.resume(throwing: error)
            }
        }
        LatencyTrace.mark(.handlerTaskCancel, self, value: Int64(reason.rawValue))
        let cancelledAt = self.uptimeNow()
        stream.task?.cancel()
        LatencyTrace.mark(.handlerTaskCancelReturned, self)
        let now = self.uptimeNow()
        if now - cancelledAt > Self.slowCancellationHandler { self.reportSlowCancellation(stream, took: now - cancelledAt) }
        switch stream.machine.handlerCancelled(reason, now: now) {
        case .release:
            self.release(stream)
        case .windDown:
            self.slots.callEndedWhileRunning()
            self.queueDeadline(stream, at: Deadline(uptimeNanoseconds: now) + self.configuration.stragglerGracePeriod)
        case .none:
            break  // Already cancelled: one straggler timer, one count.
        }
    }

    /// How long cancelling a handler task may take on the loop before it is reported: 10 ms, far beyond a cancel's
    /// own cost (microseconds) or a preemption, so only user code is named.
    static let slowCancellationHandler: Int64 = 10_000_000

    /// Cancelling the handler's task ran its cancellation handlers (`withTaskCancellationHandler`'s `onCancel`, the
    /// handler's and those of what it awaits) on this loop, and they took `nanoseconds`: every connection on the
    /// loop waited that long. The runtime cannot stop such code; it names it (logged with the method, counted).
    func reportSlowCancellation(_ stream: ServerStream, took nanoseconds: Int64) {
        self.metrics.slowCancellationHandler()
        stream.context.logger.warning(
            "Cancelling the handler held the event loop for \(nanoseconds / 1_000_000) ms: a cancellation handler (withTaskCancellationHandler's onCancel) in it, or in what it awaits, blocks; keep them short",
            metadata: ["drpc.cancellation_handler_ms": "\(nanoseconds / 1_000_000)"]
        )
    }

    /// The handler of a call that ended is still running a grace period later: a straggler.
    func stragglerCheck(_ stream: ServerStream) {
        guard self.streams[stream.id] === stream, let reason = stream.machine.stragglerCheckDue() else { return }
        self.metrics.stragglerDetected(stream.methodMetrics)
        stream.context.logger.warning(
            "Handler still running \(self.configuration.stragglerGracePeriod) after its call ended (\(reason)): a straggler that ignores cancellation",
            metadata: ["drpc.cancel_reason": "\(reason)"]
        )
    }

    /// Records the call's end in the metrics, exactly once per stream.
    func recordFinished(_ stream: ServerStream, code: Status.Code) {
        guard stream.machine.recordFinish() else { return }
        let elapsed = self.eventLoop.now - stream.startedAt
        self.metrics.callFinished(stream.methodMetrics, code: code, nanoseconds: elapsed.nanoseconds)
    }

    func release(_ stream: ServerStream) {
        // A call released without an end of its own (cancelled, or its connection lost, before its request
        // message arrived) still ends once in the metrics.
        self.recordFinished(stream, code: .cancelled)
        if !stream.machine.isWindingDown {
            self.deadlines.remove(stream)  // A running handler keeps its straggler check.
        }
        self.failWaitingWriter(stream)
        guard !stream.machine.handlerRunning else { return }  // Forgotten when the handler returns.
        self.streams.removeValue(forKey: stream.id)
        self.checkDrained()
        self.noteIdle()
    }

    /// The handler of `stream` returned, and `handlerFinished` wrote and recorded the call's end and removed its
    /// deadline: forgets the stream (the drain is checked once, by `handlerFinished`).
    func forget(_ stream: ServerStream) {
        self.failWaitingWriter(stream)
        self.streams.removeValue(forKey: stream.id)
        self.noteIdle()
    }

    /// A streaming writer still waiting for credit learns that its call has ended.
    func failWaitingWriter(_ stream: ServerStream) {
        if let waiter = stream.writerWaiter {
            stream.writerWaiter = nil
            waiter.resume(throwing: RPCError(code: .cancelled, message: "The call has ended."))
        }
    }

    // MARK: Connection lifecycle

    /// Ends the connection for a protocol violation: goaway with the reason, then close.
    func connectionError(_ error: WireError) {
        guard self.state != .closed, let context = self.context else { return }
        self.logger.debug("Closing connection: \(error)")
        self.closeReason = .streamError
        let bytes = self.writer.goAway(error, lastStreamID: self.lastStreamID)
        self.state = .closed
        // A peer that does not read would keep the flush, and the connection, pending forever.
        ConnectionWriter.writeThenClose(bytes, context: context, closeIfBlocked: true)
        self.cancelAllStreams(reason: .streamError)
    }

    /// Graceful shutdown: goaway, no new calls, in-flight calls finish within their deadlines or `drainTimeout`.
    func beginGracefulShutdown() {
        self.beginDraining(
            goAway: "The server is shutting down.",
            grace: self.configuration.drainTimeout,
            abort: "The server shut down before the call finished.",
            reason: .shuttingDown
        )
    }

    /// Sends `GOAWAY(NO_ERROR)` with `goAway` as its reason and takes no new call; the open ones finish within
    /// their deadlines or `grace`, after which they end `unavailable` with `abort` and the connection closes.
    /// A connection already draining sends no second `GOAWAY`, but ends at the earlier of the two graces: a
    /// shutdown's drain timeout is kept even by a connection that was draining for its age.
    func beginDraining(goAway: String, grace: Duration, abort: String, reason: CancelReason) {
        guard let context = self.context else { return }
        let endsAt = context.eventLoop.now + .nanoseconds(grace.nanoseconds)
        switch self.state {
        case .active, .awaitingSettings:
            self.state = .draining
            self.closeReason = reason
            self.ageTimer?.cancel()
            self.writer.scheduler.writeControl(.goAway(GoAway(lastStreamID: self.lastStreamID, code: .noError, reason: goAway)))
            self.flushNow()
            self.scheduleDrainEnd(at: endsAt, abort: abort, reason: reason, context: context)
            self.checkDrained()
        case .draining:
            guard let current = self.drainEndsAt, endsAt < current else { return }
            self.drainTimer?.cancel()
            self.scheduleDrainEnd(at: endsAt, abort: abort, reason: reason, context: context)
        case .closed:
            break
        }
    }

    /// At `endsAt` the calls still open end `unavailable` with `abort`, and the connection closes.
    private func scheduleDrainEnd(at endsAt: NIODeadline, abort: String, reason: CancelReason, context: ChannelHandlerContext) {
        self.drainEndsAt = endsAt
        self.drainTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: endsAt) { [self] in
            for stream in self.streams.values {
                self.perform(stream.machine.abort(Status(code: .unavailable, message: abort), reason: reason), on: stream)
            }
            for stream in self.queuedReplies.removeAll() {
                self.endQueuedReply(stream, Status(code: .unavailable, message: abort))
            }
            self.flushNow()
            self.close()
        }
    }

    func checkDrained() {
        guard case .draining = self.state, self.streams.isEmpty, self.queuedReplies.isEmpty else { return }
        self.flushNow()
        self.close()
    }

    func close() {
        guard self.state != .closed, let context = self.context else { return }
        self.state = .closed
        context.close(promise: nil)
    }

    func cancelAllStreams(reason: CancelReason) {
        for stream in Array(self.streams.values) {
            switch stream.machine.connectionClosed(reason) {
            case .cancelHandler(let reason):
                self.recordFinished(stream, code: .unavailable)
                self.cancelHandler(stream, reason: reason)
            case .release:
                self.release(stream)
            default:
                break
            }
        }
    }

    func connectionClosed() {
        guard !self.closedOnce else { return }
        self.closedOnce = true
        self.state = .closed
        self.prefaceTimer?.cancel()
        self.drainTimer?.cancel()
        self.ageTimer?.cancel()
        self.keepaliveTimer?.cancel()
        self.idleTimer?.cancel()
        self.queuedReplyTimer?.cancel()
        for stream in self.queuedReplies.removeAll() { self.recordQueuedReplyFinished(stream, code: .unavailable) }
        self.metrics.counters.connections.subtract(1, ordering: .sequentiallyConsistent)
        self.metrics.counters.changed()
        self.cancelAllStreams(reason: self.closeReason)
        self.checkHandlersDone()
    }

    func checkHandlersDone() {
        if self.closedOnce && self.slots.running == 0 {
            self.deadlines.cancelAll()
            self.handlersDone.succeed()
            // The handler holds its context and the context its handler: nothing runs on this connection any more,
            // so break the cycle, or every closed connection (and whatever its queues hold) stays in memory.
            self.context = nil
        }
    }
}
