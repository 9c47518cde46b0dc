import NIOCore
import Wire

// Calls: admission, inbound messages and credit, and the state machine's actions.
extension ServerConnectionHandler {
    // MARK: Calls

    func handleCallStart(_ start: CallStart) {
        guard self.acceptNewStreamID(start.streamID) else { return }
        let streamID = start.streamID
        let now = self.eventLoop.now

        let draining: Bool
        if case .draining = self.state { draining = true } else { draining = false }
        let entry = self.methodEntry(start.method)
        // Open calls are counted as the client counts them: a call it cancelled no longer takes a stream slot, even
        // while its handler winds down (that handler still takes a handler slot, see `admitHandler`).
        // A reply still waiting for credit keeps its call open too: the client has not seen its CALL_END.
        let decision = self.admission.decide(
            start,
            draining: draining,
            peerSentGoAway: self.peerSentGoAway,
            openCalls: self.streams.count - self.slots.windingDown + self.queuedReplies.count,
            methodIsKnown: entry != nil,
            now: Int64(now.uptimeNanoseconds)
        )
        let deadline: Deadline?
        let originalBudget: Duration?
        switch decision {
        case .accept(let acceptedDeadline, let acceptedBudget):
            deadline = acceptedDeadline
            originalBudget = acceptedBudget
        case .refuse(let refusal, let code, let message):
            switch refusal {
            case .draining, .peerWentAway, .streamLimit:
                self.metrics.callRefused()
            case .unknownMethod:
                self.metrics.callStarted(start.method)
                self.metrics.callFinished(start.method, code: .unimplemented, nanoseconds: 0)
            case .unsupportedEncoding:
                _ = entry.flatMap(\.metrics) ?? self.metrics.methodMetrics(for: start.method)  // Known method: as before, its instruments exist.
            case .budgetTooSmall:
                self.metrics.callShed(entry.flatMap(\.metrics) ?? self.metrics.methodMetrics(for: start.method))
            }
            self.writer.scheduler.enqueue(.callEnd(CallEnd(streamID: streamID, status: code, message: message)))
            return
        }
        guard let entry else { return }  // Refused above as `unknownMethod`.
        let methodMetrics = entry.metrics ?? self.metrics.methodMetrics(for: start.method)

        let callID = self.callIDs.next()
        let logger = self.logger
        let identity = CallIdentity(
            method: start.method,
            callID: callID,
            hopCount: Int(start.hopCount),
            originalBudget: originalBudget,
            arrival: Deadline(uptimeNanoseconds: Int64(now.uptimeNanoseconds)),
            peer: self.peer,
            logger: logger
        )
        let context = CallContext(
            deadline: deadline,
            metadata: start.metadata,
            serviceContext: .topLevel,
            control: CallControl(identity: identity)
        )
        let stream = ServerStream(
            id: streamID,
            entry: entry,
            methodMetrics: methodMetrics,
            encoding: start.encoding,
            startedAt: now,
            context: context,
            receiveWindow: self.configuration.initialStreamCredit
        )
        self.streams[streamID] = stream
        self.connectionGuard.becameBusy()
        // No write queue yet: the stream gets one when it first sends (``sendResponse(_:_:endStream:)``) or is
        // granted credit, so a call parked in its handler holds none.
        self.metrics.callStarted(methodMetrics)
        if let deadline {
            self.queueDeadline(stream, at: deadline)
        }
        if stream.machine.startsHandlerImmediately {
            self.admitHandler(stream, firstMessage: nil)
        }
    }

    /// The router's entry for `method`. The last one found is kept: a connection's calls mostly name one method,
    /// and the decoder hands out the same `String` for the same bytes, so the comparison is of two small or
    /// identical strings, where the router's look-up hashes the name. The router never changes.
    func methodEntry(_ method: String) -> ServerMethodEntry? {
        if let last = self.lastMethodEntry, last.method == method { return last.entry }
        let entry = self.router.entries[method]
        if let entry { self.lastMethodEntry = (method, entry) }
        return entry
    }

    func handleMessage(_ frame: MessageFrame) {
        if frame.data.readableBytes == 0 && (frame.messageLength == nil || !frame.endStream) {
            guard self.glitch("empty frames (an empty continuation, or an empty message that does not end the stream)") else { return }
        }
        guard let stream = self.openStream(frame.streamID, type: frame.type) else { return }
        // State before fragment rules, flow control and decoding (§13.4 step 5).
        if stream.machine.refusesMessages { return self.messageRefusedByState(stream, endStream: frame.endStream) }
        let outcome = stream.inbound.receive(
            frame, encoding: stream.encoding, compressor: self.compressor, offload: self.offload,
            maxMessageSize: self.configuration.limits.maxMessageSize, allocator: self.allocator
        )
        guard let message = outcome.message(
            grant: { self.grantCredit(stream, bytes: $0, force: true) },
            inflateOffLoop: { self.inflateOffLoop($0, stream: stream, credit: frame.data.readableBytes, endStream: frame.endStream) },
            endStream: { self.perform(stream.machine.streamError($0), on: stream) },
            endConnection: { self.connectionError($0) }
        ) else { return }
        // The last frame's bytes are what the message still holds of the window (earlier fragments went back).
        self.deliver(message, credit: frame.data.readableBytes, endStream: frame.endStream, to: stream)
    }

    /// Inflates a big message on the pool. Until it is delivered no further frame of the connection is handled
    /// (``inboundPaused``): its stream's later frames must follow it, and holding the rest bounds what waits by the
    /// decoder's buffer and the socket, as decode pacing does. Cancels and deadlines of this side still act at once.
    func inflateOffLoop(_ job: DecompressionJob, stream: ServerStream, credit: Int, endStream: Bool) {
        self.inboundPaused = true
        // In a handoff both ways: the fragments are let go on the pool, and the future keeps no copy of the message
        // for the loop to free after its reader is done with it.
        let pending = Handoff(job)
        self.offload.threadPool.runIfActive(eventLoop: self.eventLoop) { pending.take().map { Handoff($0.run()) } }
            .assumeIsolated()
            .whenComplete { result in
                // A pool that is not running never took the job: the loop does the work, as before the offload.
                // Exactly one of the two holds a value (the pool returns a handoff whenever it took the job).
                guard let inflated = (try? result.get())?.take() ?? pending.take()?.run() else { return }
                self.inflated(inflated, stream: stream, credit: credit, endStream: endStream)
            }
    }

    /// The big message is inflated: delivered (or its stream ended, as on the loop) unless the call ended
    /// meanwhile; then the frames behind it are handled.
    func inflated(_ result: Result<ByteBuffer, WireError>, stream: ServerStream, credit: Int, endStream: Bool) {
        self.inboundPaused = false
        guard self.state != .closed else { return }
        // The half-close and later messages wait behind this one, so a call that refuses it now has ended.
        if self.streams[stream.id] === stream, !stream.machine.refusesMessages {
            switch result {
            case .success(let message):
                self.deliver(message, credit: credit, endStream: endStream, to: stream)
            case .failure(let error):
                self.perform(stream.machine.streamError(InboundMessageReader.streamError(error)), on: stream)
            }
        }
        if !self.decodeScheduled { self.decodeFrames() }
        self.flushNow()
    }

    /// A whole message for `stream`, ready for its handler; `credit` wire bytes go back to the client once it is read.
    func deliver(_ message: ByteBuffer, credit: Int, endStream: Bool, to stream: ServerStream) {
        // Credit for a whole message returns when it is consumed: a streaming handler reads it from its queue; a
        // single-request call ends its inbound side here and needs no more credit.
        switch stream.machine.receiveMessage(endStream: endStream) {
        case .startHandler(let closeInbound):
            if let requests = stream.requests {
                requests.enqueue(message, credit: credit)
                if closeInbound { requests.finish() }
            } else {
                self.admitHandler(stream, firstMessage: message)
            }
        case .deliver(let closeInbound):
            stream.requests?.enqueue(message, credit: credit)
            if closeInbound { stream.requests?.finish() }
        case let other:
            self.perform(other, on: stream)
        }
    }

    func grantCredit(_ stream: ServerStream, bytes: Int, force: Bool) {
        switch stream.machine.state {
        case .idle, .open:
            let threshold = force ? 1 : self.configuration.initialStreamCredit / 2
            if let grant = stream.inbound.consumed(bytes, threshold: threshold) {
                self.writeControl(.credit(streamID: stream.id, bytes: grant))
            }
        case .halfClosed, .closed:
            stream.inbound.dropOwedCredit()  // The client sends nothing more.
        }
    }

    func requestConsumed(streamID: UInt32, bytes: Int) {
        guard let stream = self.streams[streamID] else { return }
        self.grantCredit(stream, bytes: bytes, force: false)
        self.flushSoon()
    }

    /// Executes a state machine action.
    func perform(_ action: CallStateMachine.Server.Action, on stream: ServerStream) {
        switch action {
        case .none, .write, .startHandler, .deliver:
            // Messages and handler starts are handled where they arise (they carry data the action does not).
            break
        case .closeInbound:
            stream.requests?.finish()
        case .endCall(let status, let reason):
            if self.writer.scheduler.hasPartialMessage(stream.id) {
                // Half a message is on the wire: a CALL_END now would break framing, so cancel the stream instead,
                // with the cause that matches the status.
                self.writer.scheduler.dropStream(stream.id)
                self.writeControl(.cancel(streamID: stream.id, reason: Self.cancelReason(for: status.code)))
                self.recordFinished(stream, code: status.code)
            } else {
                self.writer.scheduler.dropStream(stream.id)
                self.endCall(stream, status: status, trailers: Metadata())
            }
            self.cancelHandler(stream, reason: reason)
            // A call the peer's own bytes broke (§13.2) is a glitch; charged last, as it may end the connection.
            if reason == .streamError { self.glitch("calls that failed on their own bytes") }
        case .cancelHandler(let reason):
            self.writer.scheduler.dropStream(stream.id)
            self.recordFinished(stream, code: reason.statusCode)
            self.cancelHandler(stream, reason: reason)
        case .endCallAndRelease(let status):
            self.endCall(stream, status: status, trailers: Metadata())
            self.release(stream)
        case .release:
            self.release(stream)
        }
    }

    static func cancelReason(for code: Status.Code) -> CancelReason {
        switch code {
        case .deadlineExceeded: return .deadlineExceeded
        case .resourceExhausted: return .resourceLimit
        case .unavailable: return .shuttingDown
        case .cancelled: return .cancelled
        default: return .streamError
        }
    }

    // MARK: Late frames and replies waiting for credit

    /// A frame for a stream that already ended: dropped quietly, counted (§9.3, §13.3).
    func lateFrameDropped() {
        self.metrics.counters.lateFramesDropped.add(1, ordering: .relaxed)
    }

    /// A message for a stream whose state refuses it: after the client's end of stream the call ends `INTERNAL`;
    /// after the call's end it is dropped.
    func messageRefusedByState(_ stream: ServerStream, endStream: Bool) {
        if stream.machine.hasEnded { return self.lateFrameDropped() }
        self.perform(stream.machine.receiveMessage(endStream: endStream), on: stream)
    }
}
