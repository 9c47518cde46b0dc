import NIOCore
import Wire

// What callers ask of a connection: start a call, send, half-close, expire, cancel (on the event loop).
extension ClientConnectionHandler {
    // MARK: Calls from the caller

    /// Opens a stream for `call` and writes its start (and its single request, if any); `now` is the loop's clock,
    /// read when the call was dispatched, from which the budget on the wire is counted. Returns why the call cannot
    /// be sent, if it cannot: then no stream was opened, and the manager ends the call.
    func startCall(_ call: ClientCall, now: NIODeadline) -> RPCError? {
        let loop = call.loop
        var budget: WireBudget? = nil
        if let deadline = call.deadline {
            let remaining = deadline.timeRemaining(at: Deadline(now))
            if remaining <= .zero {
                // The budget ran out before the call could be sent: fail locally, send nothing, open no stream
                // (a later cancel must not name a stream the server never saw).
                return RPCError(code: .deadlineExceeded, message: "The call's budget was spent before it could be sent.", cancelReason: .deadlineExceeded)
            }
            budget = WireBudget(
                remainingMicroseconds: max(1, remaining.microseconds),
                originalMicroseconds: call.originalBudget?.microseconds ?? remaining.microseconds
            )
        }
        if !call.metadata.isEmpty, let error = call.metadata.checkLimits(of: self.peerSettings) {
            // The server would refuse the CALL_START: fail here, with the reason, and open no stream.
            return RPCError(code: .resourceExhausted, message: "The request metadata is too large for the server and was not sent: \(error.message)")
        }
        let streamID = self.nextStreamID
        self.nextStreamID += 2
        loop.streamID = streamID
        loop.connection = self
        loop.peer = self.serverIdentity
        loop.inbound = InboundMessageReader(window: self.configuration.initialStreamCredit)
        self.streams[streamID] = call
        loop.machine.streamOpened()
        self.writer.scheduler.openStream(streamID)
        let compressed = call.encoding != .identity && self.peerSettings.accepts(call.encoding)
        self.writer.scheduler.enqueue(
            .callStart(
                CallStart(
                    streamID: streamID,
                    method: call.method,
                    budget: budget,
                    hopCount: call.hopCount,
                    encoding: compressed ? call.encoding : .identity,
                    metadata: call.metadata
                )
            )
        )
        if let request = call.firstRequest {
            _ = loop.machine.send(end: true)
            guard self.writeMessage(call, request, endStream: true) else { return nil }  // Ended, stream and all.
        }
        if let waiter = loop.startWaiter {
            loop.startWaiter = nil
            waiter.resume()
        }
        self.flushSoon()
        return nil
    }

    /// Sends a streamed request; waits (via `continuation`) while the stream's queue is over its watermark.
    func send(_ call: ClientCall, _ message: ByteBuffer, continuation: UnsafeContinuation<Void, any Error>) {
        let loop = call.loop
        guard loop.machine.send(end: false) == .write else {
            continuation.resume(throwing: loop.outcomeError ?? RPCError(code: .failedPrecondition, message: "The request stream is already closed."))
            return
        }
        guard self.writeMessage(call, message, endStream: false) else {
            continuation.resume(throwing: loop.outcomeError ?? RPCError(code: .resourceExhausted, message: "The request is too large."))
            return
        }
        if self.writer.writerMustWait(loop.streamID) {
            loop.writerWaiter = continuation
        } else {
            continuation.resume()
        }
        self.flushSoon()
    }

    /// Ends the request stream.
    func halfClose(_ call: ClientCall) {
        let loop = call.loop
        guard loop.machine.halfClose() == .write else { return }
        // The client's last frame on the stream (a `CANCEL` needs no queue): the queue goes once it is written.
        self.writer.scheduler.enqueue(.halfClose(streamID: loop.streamID), last: true)
        self.flushSoon()
    }

    /// Queues a request; a message larger than the server accepts fails the call locally instead (returns false).
    func writeMessage(_ call: ClientCall, _ message: ByteBuffer, endStream: Bool) -> Bool {
        if message.readableBytes > Int(self.peerSettings.maxMessageSize) {
            let status = Status(code: .resourceExhausted, message: "The request message is \(message.readableBytes) bytes; the server accepts at most \(self.peerSettings.maxMessageSize).")
            self.perform(call.loop.machine.streamError(status), call: call)
            return false
        }
        let job = self.writer.enqueueMessage(
            streamID: call.loop.streamID,
            message,
            encoding: call.encoding,
            peer: self.peerSettings,
            compressor: self.compressor,
            offload: self.offload,
            allocator: self.allocator,
            endStream: endStream
        )
        if let job { self.compressOffLoop(job, offload: self.offload) }
        return true
    }

    /// The call's deadline passed on this host's clock: fail it at once and tell the server.
    func deadlineExpired(_ call: ClientCall) {
        self.perform(call.loop.machine.deadlineExpired(), call: call)
    }

    /// The caller gave up (task cancelled, or a combinator cancelled it with its own cause).
    func cancel(_ call: ClientCall, reason: CancelReason, origin: CancelOrigin = .caller) {
        let loop = call.loop
        // Already over: nothing to send (the machine would say so too, but no CANCEL flush is due either).
        guard loop.machine.isOnStream, self.streams[loop.streamID] === call else { return }
        self.perform(loop.machine.callerCancelled(reason, origin: origin), call: call)
    }

    /// Cancels held back at most before a flush: a task group cancelling a thousand calls queues a thousand cancel
    /// jobs on this loop, and a flush queued behind them all would hold every `CANCEL` until the last is processed
    /// (the first server handler would stop only after the client's whole burst). Every 32, the server's loop
    /// starts stopping handlers while this one is still cancelling; 32 frames are about 350 bytes per write.
    static let cancelsPerFlush = 32

    /// Counts a `CANCEL` queued and decides when it is written: the first of a tick at once (nothing else is
    /// waiting for the end-of-tick flush, so a lone cancel, the common case, leaves before anything else runs:
    /// before the caller is resumed, before the rest of the tick's work), then every ``cancelsPerFlush``, the rest
    /// at the end of the tick. The end-of-tick flush is requested either way, so the tick's later cancels batch.
    func cancelWritten() {
        self.unflushedCancels += 1
        let firstOfTick = !self.writer.flushIsScheduled
        self.flushSoon()
        if firstOfTick || self.unflushedCancels >= Self.cancelsPerFlush {
            self.flushNow()
        }
    }

    /// Whether a `CANCEL` with this cause, and the end of its call, wait for the end of the event-loop tick. A
    /// deadline's do: the server holds the same deadline (anchored on arrival, so later by one transit) and
    /// enforces it on its own clock, so this `CANCEL` is a backstop, while its write (a loopback `write` that wakes
    /// the reader, preempting this thread on a busy machine) and the caller's resume would otherwise run before
    /// the tick's other due deadlines — before other handlers' cancellation, and, for the outbound call of a handler
    /// whose deadline passed, before that handler's own cancellation handlers (the RPC's run first, inside
    /// `Task.cancel()`). Any other cause is written at once: the server learns of it only from this frame.
    static func cancelWaitsForTickEnd(_ reason: CancelReason) -> Bool {
        reason == .deadlineExceeded
    }

    /// A deadline's `CANCEL` is queued: written once every timer due by now has run (or sooner, every
    /// ``cancelsPerFlush``), and its call completed after that write, in the order the tick ended them. The
    /// `CANCEL` is still on the wire before the caller resumes, as for any cancel.
    ///
    /// The write is a task scheduled for now rather than an immediate one: NIO takes the timers that came due
    /// between its batches in deadline order and alternates them with immediate tasks, so a flush queued with
    /// `execute` could still run ahead of another connection's due deadline; one scheduled for now runs after
    /// every timer due before it.
    func cancelWrittenAtTickEnd(_ call: ClientCall, _ error: RPCError) {
        self.unflushedCancels += 1
        call.loop.endingError = error
        self.endsAtTickEnd.append((call, error))
        if self.unflushedCancels >= Self.cancelsPerFlush { self.flushNow() }
        guard self.endsAtTickEnd.count == 1 else { return }  // The job below is already scheduled.
        // Owning the tick's flush keeps other frames of the tick from scheduling an earlier one.
        let ownsFlush = self.flushContext != nil && self.writer.requestFlushSoon()
        let loop = self.manager.eventLoop
        let job = loop.assumeIsolated().scheduleTask(deadline: loop.now) { [self] in
            if ownsFlush { self.writer.scheduledFlushRuns() }
            self.endAtTickEnd()
        }
        // A loop shutting down fails its scheduled tasks instead of running them: the calls still end.
        job.futureResult.assumeIsolated().whenFailure { [self] _ in self.endAtTickEnd() }
    }

    /// Writes what is queued (the tick's deadline `CANCEL`s among it), then completes the calls they ended.
    func endAtTickEnd() {
        self.flushNow()
        let ends = self.endsAtTickEnd
        self.endsAtTickEnd = []
        for (call, error) in ends { call.loop.complete(.failure(error)) }
    }
}
