import NIOCore
import Wire

// Replies that wait for credit after their handler returned OK.
extension ServerConnectionHandler {
    /// A call ended `OK` but its reply waits for credit: it stays open on the wire until its `CALL_END` is written,
    /// its deadline still applies, and its end is recorded when it happens.
    func replyQueued(_ stream: ServerStream) {
        // Keeps `release` from recording the call as cancelled; `recordQueuedReplyFinished` records its real end.
        _ = stream.machine.recordFinish()
        self.queuedReplies.insert(stream, deadline: stream.context.deadline?.uptimeNanoseconds)
        self.armQueuedReplyTimer()
    }

    func recordQueuedReplyFinished(_ stream: ServerStream, code: Status.Code) {
        let elapsed = self.eventLoop.now - stream.startedAt
        self.metrics.callFinished(stream.methodMetrics, code: code, nanoseconds: elapsed.nanoseconds)
    }

    /// The scheduler wrote frames of `streamIDs`: a queued reply whose queue is gone was written in full.
    func repliesWritten(_ streamIDs: [UInt32]) {
        for streamID in streamIDs where !self.writer.scheduler.hasQueuedFrames(streamID) {
            if let stream = self.queuedReplies.remove(streamID) { self.recordQueuedReplyFinished(stream, code: .ok) }
        }
        if case .draining = self.state, self.queuedReplies.isEmpty, let context = self.context {
            context.eventLoop.assumeIsolated().execute { [self] in self.checkDrained() }
        }
    }

    /// The client cancelled a call whose reply was still queued.
    func queuedReplyCancelled(_ streamID: UInt32) {
        guard let stream = self.queuedReplies.remove(streamID) else { return }
        self.recordQueuedReplyFinished(stream, code: .cancelled)
        self.checkDrained()
    }

    /// Ends a queued reply with an error at once (§10.3): its unsent bytes are dropped.
    func endQueuedReply(_ stream: ServerStream, _ status: Status) {
        self.writer.scheduler.endStreamNow(
            stream.id,
            end: .callEnd(CallEnd(streamID: stream.id, status: status.code, message: status.message)),
            cancel: .cancel(streamID: stream.id, reason: Self.cancelReason(for: status.code))
        )
        self.recordQueuedReplyFinished(stream, code: status.code)
    }

    func armQueuedReplyTimer() {
        guard let at = self.queuedReplies.earliestDeadline, let context = self.context else { return }
        if let armedAt = self.queuedReplyTimerAt, armedAt <= at { return }
        self.queuedReplyTimer?.cancel()
        self.queuedReplyTimerAt = at
        self.queuedReplyTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, at)))) { [self] in
            self.queuedReplyTimer = nil
            self.queuedReplyTimerAt = nil
            guard self.state != .closed else { return }
            for stream in self.queuedReplies.removeExpired(now: self.uptimeNow()) {
                self.endQueuedReply(
                    stream,
                    Status(code: .deadlineExceeded, message: "The call's deadline passed on the server while its reply waited for credit; the reply was dropped.")
                )
            }
            self.armQueuedReplyTimer()
            self.flushSoon()
            self.checkDrained()
        }
    }
}
