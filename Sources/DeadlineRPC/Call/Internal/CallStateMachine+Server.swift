import NIOCore
import Wire

extension CallStateMachine {
    /// The server half of one call's life, as a pure value: the §9.3 state (``State``), whether a handler is still
    /// owed its return beside it, and the handler task as the connection runs it (``HandlerTask``: waiting for a slot,
    /// running, winding down after the call ended, a straggler), plus whether the call's end was recorded. Events
    /// in, actions out; the time is passed in where it matters.
    ///
    /// A call ends exactly once — with a `CALL_END` the server sends, or a `CANCEL` the client sent — and the
    /// handler task may outlive that end (winding down, then a straggler) until it returns. Every (state, event)
    /// pair has a defined outcome. Frames the peer sent after the end are late frames: the events return `.none`,
    /// and the connection counts them (it asks ``hasEnded`` first). Events the runtime itself should never feed —
    /// a handler returning or writing when none runs — are our bugs: `assertionFailure` in debug builds, ignored in
    /// release (see ``CallStateMachine``).
    struct Server: Sendable, Hashable {
        /// The call's state in `docs/PROTOCOL.md` §9.3, server side.
        enum State: Sendable, Hashable, CaseIterable {
            /// The call started but its handler has not: a single-request call waits for its request message.
            case idle
            /// The handler runs (or starts with the call) and the client may still send messages.
            case open
            /// The client half-closed; the handler runs and the call has not ended.
            case halfClosed
            /// The call has ended (status sent, or cancelled by the client). The handler may still be returning:
            /// see ``Server/handlerOutstanding``.
            case closed
        }

        /// What the connection must do after an event.
        enum Action: Sendable, Hashable {
            /// Nothing to do (a late frame for an ended stream is dropped quietly).
            case none
            /// Start the handler with the message just received; close its request stream if `closeInbound`.
            case startHandler(closeInbound: Bool)
            /// Hand the message to the running handler; close its request stream if `closeInbound`.
            case deliver(closeInbound: Bool)
            /// Close the handler's request stream (the client half-closed).
            case closeInbound
            /// Write the handler's message to the wire.
            case write
            /// Send `CALL_END` with the status and cancel the running handler with the reason.
            case endCall(Status, cancelHandler: CancelReason)
            /// Cancel the running handler; no frame is sent (the client already ended the stream).
            case cancelHandler(CancelReason)
            /// Send `CALL_END` with the status; nothing runs any more, so forget the stream.
            case endCallAndRelease(Status)
            /// Nothing runs any more and the call has ended: forget the stream.
            case release
        }

        /// The handler task as the connection runs it, beside the §9.3 state: it may wait for a handler slot
        /// before it starts, and may outlive the call.
        enum HandlerTask: Sendable, Hashable {
            /// Not started: no slot asked for yet, or the call ended before it got one.
            case notStarted
            /// Every handler slot is taken: it starts with this first request message (nil for a streaming call)
            /// when one frees.
            case waitingForSlot(firstMessage: ByteBuffer?)
            /// Running; the call has not ended.
            case running
            /// Running although the call ended at `endedAt` (uptime nanoseconds) for `reason`; a `straggler` once
            /// its grace period passed without it returning.
            case windingDown(endedAt: Int64, reason: CancelReason, straggler: Bool)
        }

        /// What ``handlerCancelled(_:now:)`` asks of the connection.
        enum OnHandlerCancelled: Sendable, Hashable {
            /// No handler runs (it never started, or was waiting for a slot and now never will): forget the stream.
            case release
            /// The handler runs on after the call's end: it holds its slot; check for a straggler after the grace
            /// period.
            case windDown
            /// Already winding down: one straggler check, one count.
            case none
        }

        private(set) var state: State
        /// Whether a handler started (or starts with the call) and has not returned: the machine still waits for
        /// ``handlerFinished(_:)``.
        private(set) var handlerOutstanding: Bool
        /// Whether the method takes exactly one request (unary, server-streaming): its handler starts on that message.
        let singleRequest: Bool
        /// The call's deadline in uptime nanoseconds, if it has one.
        let deadline: Int64?
        /// The handler task, as the connection runs it.
        private(set) var task: HandlerTask = .notStarted
        /// The call's end was recorded in the metrics (it is recorded exactly once).
        private(set) var finishRecorded = false
        /// Whether our bugs trap in debug builds; the exhaustive tests feed every event in every state, bugs
        /// included, and turn it off.
        private let assertsOnBugs: Bool

        /// A call that just received its `CALL_START`; streaming-request handlers start at once.
        init(singleRequest: Bool, deadline: Int64? = nil, assertsOnBugs: Bool = true) {
            self.singleRequest = singleRequest
            self.deadline = deadline
            self.assertsOnBugs = assertsOnBugs
            self.state = singleRequest ? .idle : .open
            self.handlerOutstanding = !singleRequest
        }

        /// For a streaming-request call, the handler starts with the call; the I/O layer starts it on creation.
        var startsHandlerImmediately: Bool { !self.singleRequest }

        /// Whether a `MESSAGE` or `MESSAGE_CONTINUATION` for this stream is decided by its state alone, before the
        /// fragment rules, flow control and decoding look at it (PROTOCOL.md §13.4 step 5): after the client's end
        /// of stream it ends the call (``receiveMessage(endStream:)``), after the call's end it is dropped quietly.
        var refusesMessages: Bool {
            switch self.state {
            case .idle, .open: return false
            case .halfClosed, .closed: return true
            }
        }

        /// Whether the call has ended (the handler may still be winding down): every later frame for the stream is
        /// a late frame, dropped quietly and counted (§9.3).
        var hasEnded: Bool { self.state == .closed }

        // MARK: Events of the call (§9.3)

        /// A request message arrived (`endStream`: with the client's end of stream).
        mutating func receiveMessage(endStream: Bool) -> Action {
            switch self.state {
            case .idle:
                self.state = endStream ? .halfClosed : .open
                self.handlerOutstanding = true
                return .startHandler(closeInbound: endStream)
            case .open:
                if self.singleRequest {
                    self.state = .closed
                    return .endCall(
                        Status(code: .internal, message: "The client sent more than one request message on a single-request call."),
                        cancelHandler: .streamError
                    )
                }
                if endStream { self.state = .halfClosed }
                return .deliver(closeInbound: endStream)
            case .halfClosed:
                self.state = .closed
                return .endCall(
                    Status(code: .internal, message: "The client sent a message after ending its stream."),
                    cancelHandler: .streamError
                )
            case .closed:
                return .none  // A late frame.
            }
        }

        /// The client half-closed.
        mutating func receiveHalfClose() -> Action {
            switch self.state {
            case .idle:
                self.state = .closed
                return .endCallAndRelease(
                    Status(code: .internal, message: "The client ended its stream without sending the request message.")
                )
            case .open:
                self.state = .halfClosed
                return .closeInbound
            case .halfClosed:
                self.state = .closed
                return .endCall(
                    Status(code: .internal, message: "The client ended its stream twice."),
                    cancelHandler: .streamError
                )
            case .closed:
                return .none  // A late frame.
            }
        }

        /// The client sent `CANCEL`: the stream is over without a `CALL_END` (after the end: a late frame).
        mutating func receiveCancel(_ reason: CancelReason) -> Action {
            self.endWithoutCallEnd(reason)
        }

        /// The call's deadline passed on this server's clock.
        mutating func deadlineExpired() -> Action {
            self.end(Status(code: .deadlineExceeded, message: "The call's deadline passed on the server."), reason: .deadlineExceeded)
        }

        /// Something about this stream only was invalid (a message that failed to decompress or decode, …).
        mutating func streamError(_ status: Status) -> Action {
            self.end(status, reason: .streamError)
        }

        /// The server ends the call itself (shutdown past its drain time, a resource limit).
        mutating func abort(_ status: Status, reason: CancelReason) -> Action {
            self.end(status, reason: reason)
        }

        /// A local end: after the call's end it lost a race with that end, and does nothing.
        private mutating func end(_ status: Status, reason: CancelReason) -> Action {
            switch self.state {
            case .idle:
                self.state = .closed
                return .endCallAndRelease(status)
            case .open, .halfClosed:
                self.state = .closed
                return .endCall(status, cancelHandler: reason)
            case .closed:
                return .none
            }
        }

        /// The handler produced a response message; after the call's end it is discarded.
        func handlerWrote() -> Action {
            switch self.state {
            case .open, .halfClosed: return .write
            case .closed: return .none
            case .idle:
                self.ourBug("a handler wrote on a call whose handler has not started")
                return .none
            }
        }

        /// The handler returned (or threw); `status` is its outcome.
        mutating func handlerFinished(_ status: Status) -> Action {
            guard self.handlerOutstanding else {
                self.ourBug("a handler returned on a call where none runs (state \(self.state))")
                return .none
            }
            self.handlerOutstanding = false
            switch self.state {
            case .open, .halfClosed:
                self.state = .closed
                return .endCallAndRelease(status)
            case .closed:
                return .release
            case .idle:
                preconditionFailure("an idle call has no handler outstanding")
            }
        }

        /// What the connection writes when a handler returns.
        enum OnHandlerFinished: Sendable, Hashable {
            /// Nothing (our bug: no handler was owed its return).
            case none
            /// The call had already ended: forget the stream.
            case release
            /// Write `response` (if any), then `CALL_END` with `status` and `trailers`, then forget the stream.
            /// `refusedTrailers` is why the handler's own trailers were not sent (for the log), which `status` reports.
            case reply(response: ByteBuffer?, status: Status, trailers: Metadata, refusedTrailers: WireError?)
        }

        /// The handler returned with `status`, an optional single `response` and `trailers`; `peer` holds the
        /// client's limits. Checks them before anything is written: trailers the client would refuse would turn
        /// the handler's status into the client's "reply was refused", so they fail the call instead (`INTERNAL` for
        /// a key or value the wire forbids, a handler bug; `RESOURCE_EXHAUSTED` over the client's limits), and the
        /// response goes too (a reply followed by an error would be half a success); a response over the client's
        /// message size is dropped with `RESOURCE_EXHAUSTED`. Empty trailers (nearly every call) cost one check.
        mutating func handlerFinished(
            _ status: Status,
            response: ByteBuffer?,
            trailers: Metadata,
            peer: Settings
        ) -> OnHandlerFinished {
            switch self.handlerFinished(status) {
            case .endCallAndRelease(let status):
                if !trailers.isEmpty, let (code, error) = Self.trailerProblem(trailers, peer: peer) {
                    let message =
                        code == .internal
                        ? "The handler's trailing metadata is invalid and was not sent: \(error.message)"
                        : "The handler's trailing metadata is too large for the client and was not sent: \(error.message)"
                    return .reply(response: nil, status: Status(code: code, message: message), trailers: Metadata(), refusedTrailers: error)
                }
                if let response, response.readableBytes > Int(peer.maxMessageSize) {
                    let tooLarge = Status(
                        code: .resourceExhausted,
                        message: "The response message is \(response.readableBytes) bytes; the client accepts at most \(peer.maxMessageSize)."
                    )
                    return .reply(response: nil, status: tooLarge, trailers: Metadata(), refusedTrailers: nil)
                }
                return .reply(response: response, status: status, trailers: trailers, refusedTrailers: nil)
            case .release:
                return .release
            default:
                return .none
            }
        }

        /// What is wrong with trailers a handler set: a key or value the wire forbids (`internal`, a handler bug), or
        /// a block over the client's advertised limits (`resourceExhausted`, like an oversized response).
        private static func trailerProblem(_ trailers: Metadata, peer: Settings) -> (Status.Code, WireError)? {
            if let error = trailers.validate() { return (.internal, error) }
            if let error = trailers.checkLimits(of: peer) { return (.resourceExhausted, error) }
            return nil
        }

        /// The connection is gone: no frame can be sent; a running handler is cancelled.
        mutating func connectionClosed(_ reason: CancelReason) -> Action {
            self.endWithoutCallEnd(reason)
        }

        /// An end that writes nothing (the client's `CANCEL`, the connection's loss): a running handler is
        /// cancelled with `reason`, a call whose handler never started is forgotten.
        private mutating func endWithoutCallEnd(_ reason: CancelReason) -> Action {
            switch self.state {
            case .idle:
                self.state = .closed
                return .release
            case .open, .halfClosed:
                self.state = .closed
                return .cancelHandler(reason)
            case .closed:
                return .none
            }
        }

        // MARK: The handler task

        /// The handler task runs, winding down or not: its return is still to come.
        var handlerRunning: Bool {
            switch self.task {
            case .running, .windingDown: return true
            case .notStarted, .waitingForSlot: return false
            }
        }

        /// The call ended while its handler kept running.
        var isWindingDown: Bool {
            if case .windingDown = self.task { return true }
            return false
        }

        /// The handler waits for a handler slot.
        var isWaitingForSlot: Bool {
            if case .waitingForSlot = self.task { return true }
            return false
        }

        /// Every handler slot is taken: the handler waits for one, with its first request message.
        mutating func handlerQueued(firstMessage: ByteBuffer?) {
            self.task = .waitingForSlot(firstMessage: firstMessage)
        }

        /// A slot freed for this call: its first request message (nil for a streaming call) when the handler was
        /// waiting, nil when it no longer waits (its call ended meanwhile). Call ``handlerStarted()`` next.
        mutating func slotTaken() -> ByteBuffer?? {
            guard case .waitingForSlot(let firstMessage) = self.task else { return nil }
            self.task = .notStarted
            return .some(firstMessage)
        }

        /// The handler task started.
        mutating func handlerStarted() {
            self.task = .running
        }

        /// The call ended (for `reason`, at `now`) and its handler was cancelled: the handler winds down if it runs,
        /// and never starts if it waited for a slot.
        mutating func handlerCancelled(_ reason: CancelReason, now: Int64) -> OnHandlerCancelled {
            switch self.task {
            case .notStarted, .waitingForSlot:
                self.task = .notStarted  // A call ended while waiting for a slot never starts its handler.
                return .release
            case .running:
                self.task = .windingDown(endedAt: now, reason: reason, straggler: false)
                return .windDown
            case .windingDown:
                return .none
            }
        }

        /// The grace period after the call's end ran out: a handler still winding down is a straggler. Returns why
        /// its call ended, or nil when it is not winding down.
        mutating func stragglerCheckDue() -> CancelReason? {
            guard case .windingDown(let endedAt, let reason, _) = self.task else { return nil }
            self.task = .windingDown(endedAt: endedAt, reason: reason, straggler: true)
            return reason
        }

        /// The handler task returned. Returns, for a straggler, how long after the call's end (nanoseconds).
        mutating func handlerTaskReturned(now: Int64) -> (windingDown: Bool, stragglerOverrun: Int64?) {
            defer { self.task = .notStarted }
            guard case .windingDown(let endedAt, _, let straggler) = self.task else { return (false, nil) }
            return (true, straggler ? now - endedAt : nil)
        }

        /// Whether the call's deadline has passed at `now` while its handler has not been cancelled: an outcome
        /// arriving now must not contradict the caller, whose own timer has failed the call by now.
        func deadlinePassed(now: Int64) -> Bool {
            guard !self.isWindingDown, let deadline = self.deadline else { return false }
            return deadline <= now
        }

        /// Marks the call's end recorded in the metrics; false when it already was (it is recorded exactly once).
        mutating func recordFinish() -> Bool {
            guard !self.finishRecorded else { return false }
            self.finishRecorded = true
            return true
        }

        // MARK: Our bugs

        /// An event the runtime should never have fed: traps in debug builds, ignored in release.
        private func ourBug(_ what: @autoclosure () -> String) {
            if self.assertsOnBugs { assertionFailure("CallStateMachine.Server: \(what())") }
        }
    }
}
