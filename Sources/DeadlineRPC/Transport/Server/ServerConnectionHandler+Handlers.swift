import NIOCore
import Wire

// Handlers: slots, spawning the tasks (owned by the connection), their outcomes, trailers and streamed responses.
extension ServerConnectionHandler {
    /// Starts the handler if a handler slot is free, else queues it: at no instant do more than
    /// `maxConcurrentStreams` handlers run on a connection, counting cancelled ones until they return. This bounds
    /// rapid reset by work instead of refusing calls a legitimate client (which counts a cancelled call closed at
    /// once) is entitled to start. A waiting call is still bounded by its deadline and ended by a cancel.
    func admitHandler(_ stream: ServerStream, firstMessage: ByteBuffer?) {
        if !stream.entry.kind.singleRequest {
            // The request queue exists from the start, so messages that arrive while the handler waits are kept
            // (bounded by the stream's credit).
            let streamID = stream.id
            let eventLoop = self.context.eventLoop
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            stream.requests = InboundMessageQueue { consumed in
                eventLoop.execute {
                    loopBound.value.requestConsumed(streamID: streamID, bytes: consumed)
                }
            }
        }
        self.startWaitingHandlers()  // Older waiters first; also drops ids of calls that ended while waiting.
        if self.slots.canStartNow {
            self.startHandler(stream, firstMessage: firstMessage)
            return
        }
        stream.machine.handlerQueued(firstMessage: firstMessage)
        self.slots.enqueue(stream.id) { self.streams[$0]?.machine.isWaitingForSlot == true }
    }

    /// Starts waiting handlers, oldest first, while slots are free.
    func startWaitingHandlers() {
        guard self.state != .closed else { return }  // Calls of a closed connection never start.
        while let streamID = self.slots.nextWaiter() {
            guard let stream = self.streams[streamID], let message = stream.machine.slotTaken() else { continue }
            self.startHandler(stream, firstMessage: message)
        }
    }

    func startHandler(_ stream: ServerStream, firstMessage: ByteBuffer?) {
        let streamID = stream.id
        let eventLoop = self.context.eventLoop
        let call = ServerCall(
            context: stream.context,
            streamID: streamID,
            firstMessage: firstMessage,
            requests: stream.requests,
            connection: NIOLoopBound(self, eventLoop: eventLoop),
            outcomes: self.handlerOutcomes
        )
        stream.machine.handlerStarted()
        self.slots.started()
        self.metrics.handlerStarted()
        // The task captures the entry (one reference) rather than its handler closure and environment (four), and
        // runs the closure the entry built once for every call of its method.
        let entry = stream.entry
        // Owned by this connection: cancelled when the call ends, awaited by ServerConnection.run() through
        // `handlersDone` (see handlerFinished and connectionClosed).
        if let clock = self.manualClock {
            // An in-process test connection (DeadlineRPCTesting): the handler reads the test's manual clock.
            stream.task = Task {
                await ManualClock.$loop.withValue(clock) { await entry.run(call) }
            }
        } else if let taskExecutor = self.taskExecutor {
            stream.task = Task(executorPreference: taskExecutor) {
                await entry.run(call)
            }
        } else {
            // No preference at all rather than a nil one: a task created with a preference carries a status record
            // that every later enqueue of the task looks up under the task's status lock.
            stream.task = Task {
                await entry.run(call)
            }
        }
    }

    /// Takes every queued handler outcome (the job ``ServerCall/finish(response:status:trailers:)`` schedules).
    func takeHandlerOutcomes() {
        self.handlerOutcomes.takeAll { outcomes in
            for outcome in outcomes { self.handlerFinished(outcome) }
        }
    }

    /// A handler's outcome arrived (on the event loop).
    func handlerFinished(_ outcome: HandlerOutcome) {
        self.handlerFinished(streamID: outcome.streamID, response: outcome.response, status: outcome.status, trailers: outcome.trailers)
    }

    /// The handler's outcome arrived (on the event loop).
    func handlerFinished(streamID: UInt32, response: ByteBuffer?, status: Status, trailers: Metadata) {
        guard let stream = self.streams[streamID], stream.machine.handlerRunning else { return }
        let now = self.uptimeNow()
        // A deadline that passed before this outcome was taken wins, even if its timer has not run yet (the loop was
        // busy): the caller's own timer has failed the call by now, so an OK recorded here would contradict it.
        if stream.machine.deadlinePassed(now: now) {
            self.perform(stream.machine.deadlineExpired(), on: stream)
        }
        let action = stream.machine.handlerFinished(status, response: response, trailers: trailers, peer: self.reader.peerSettings)
        let returned = stream.machine.handlerTaskReturned(now: now)
        // Once per call: its deadline or straggler check goes, its slot frees, and (below) its end is written and
        // recorded, the stream forgotten, and the drain checked.
        self.deadlines.remove(stream)
        self.slots.returned(wasWindingDown: returned.windingDown)
        defer { self.startWaitingHandlers() }
        self.metrics.handlerReturned()
        if let overrun = returned.stragglerOverrun {
            self.metrics.stragglerReturned(overrunNanoseconds: overrun)
            stream.context.logger.warning(
                "Straggler handler returned",
                metadata: ["drpc.overrun_ms": "\(overrun / 1_000_000)"]
            )
        }
        switch action {
        case .reply(let response, let status, let trailers, let refusedTrailers):
            if let refusedTrailers { self.logInvalidTrailers(stream, refusedTrailers, code: status.code) }
            if let response { self.sendResponse(stream, response, endStream: false) }
            self.endCall(stream, status: status, trailers: trailers)
            self.forget(stream)
        case .release:
            self.forget(stream)
        case .none:
            break
        }
        self.flushSoon()
        self.checkDrained()
        self.checkHandlersDone()
    }

    /// Logs a handler's invalid trailers, once per method: a handler that sets a bad key does so on every
    /// call, and one line names the bug as well as a thousand.
    func logInvalidTrailers(_ stream: ServerStream, _ error: WireError, code: Status.Code) {
        guard stream.methodMetrics.invalidTrailersLogged.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            return
        }
        stream.context.logger.error(
            "A handler's trailing metadata could not be sent; the call ended with \(code) instead (logged once per method)",
            metadata: ["drpc.method": "\(stream.method)", "drpc.error": "\(error.message)"]
        )
    }

    /// A streamed response from the handler (on the event loop).
    func handlerSend(streamID: UInt32, message: ByteBuffer, watermark: Int, continuation: UnsafeContinuation<Void, any Error>) {
        if let stream = self.streams[streamID], message.readableBytes > Int(self.reader.peerSettings.maxMessageSize) {
            let status = Status(code: .resourceExhausted, message: "A response message is \(message.readableBytes) bytes; the client accepts at most \(self.reader.peerSettings.maxMessageSize).")
            self.perform(stream.machine.abort(status, reason: .resourceLimit), on: stream)
            self.flushSoon()
        }
        guard let stream = self.streams[streamID], stream.machine.handlerWrote() == .write else {
            continuation.resume(throwing: RPCError(code: .cancelled, message: "The call has already ended; the response was not sent.", cancelReason: self.streams[streamID]?.context.cancelReason))
            return
        }
        self.sendResponse(stream, message, endStream: false)
        stream.writerWatermark = watermark
        if self.writer.writerMustWait(streamID, watermark: watermark) {
            stream.writerWaiter = continuation
        } else {
            continuation.resume()
        }
        self.flushSoon()
    }

    func sendResponse(_ stream: ServerStream, _ message: ByteBuffer, endStream: Bool) {
        let job = self.writer.enqueueMessage(
            streamID: stream.id,
            message,
            encoding: stream.encoding,
            peer: self.reader.peerSettings,
            compressor: self.compressor,
            offload: self.offload,
            allocator: self.allocator,
            endStream: endStream,
            // Callers checked that the stream may still send, so a missing queue is one not made yet.
            opening: true
        )
        if let job { self.compressOffLoop(job, offload: self.offload) }
    }

    func endCall(_ stream: ServerStream, status: Status, trailers: Metadata) {
        let end = Frame.callEnd(CallEnd(streamID: stream.id, status: status.code, message: status.message, metadata: trailers))
        guard status.code == .ok else {
            // §10.3: an error end is never stuck behind flow control; the unsent messages go.
            self.writer.scheduler.endStreamNow(stream.id, end: end, cancel: .cancel(streamID: stream.id, reason: Self.cancelReason(for: status.code)))
            self.recordFinished(stream, code: status.code)
            return
        }
        if self.writer.scheduler.enqueue(end, last: true) {
            self.replyQueued(stream)
        } else {
            self.recordFinished(stream, code: status.code)
        }
    }
}
