import Wire

/// The server half of one stream's lifecycle, as a pure value: events in, actions out, no I/O and no clock.
///
/// A stream ends exactly once — with a `CALL_END` the server sends, or a `CANCEL` the client sent — and the
/// handler task may outlive that end (a straggler) until it returns. Every (state, event) pair has a defined
/// outcome; frames for an ended stream are dropped quietly.
struct ServerStreamStateMachine: Sendable, Hashable {
    enum State: Sendable, Hashable, CaseIterable {
        /// The call started but its handler has not: a single-request call waits for its request message.
        case idle
        /// The handler runs and the call has not ended; the client may still send messages.
        case active
        /// The handler runs, the client half-closed, the call has not ended.
        case activeInboundClosed
        /// The call has ended (status sent, or cancelled by the client); the handler has not returned yet.
        case endedHandlerRunning
        /// Ended, and no handler runs: the stream can be forgotten.
        case closed
    }

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

    private(set) var state: State
    /// Whether the method takes exactly one request (unary, server-streaming): its handler starts on that message.
    let singleRequest: Bool

    /// A stream that just received its `CALL_START`; streaming-request handlers start at once.
    init(singleRequest: Bool) {
        self.singleRequest = singleRequest
        self.state = singleRequest ? .idle : .active
    }

    /// For a streaming-request call, the handler starts with the call; the I/O layer starts it on creation.
    var startsHandlerImmediately: Bool { !self.singleRequest }

    /// Whether a `MESSAGE` or `MESSAGE_CONTINUATION` for this stream is decided by its state alone, before the
    /// fragment rules, flow control and decoding look at it (PROTOCOL.md §13.4 step 5): after the client's end of
    /// stream it ends the call (``receiveMessage(endStream:)``), after the call's end it is dropped quietly.
    var refusesMessages: Bool {
        switch self.state {
        case .idle, .active: return false
        case .activeInboundClosed, .endedHandlerRunning, .closed: return true
        }
    }

    /// Whether the call has ended (the handler may still be winding down): every later frame for the stream is
    /// dropped quietly (§9.3).
    var hasEnded: Bool {
        switch self.state {
        case .idle, .active, .activeInboundClosed: return false
        case .endedHandlerRunning, .closed: return true
        }
    }

    mutating func receiveMessage(endStream: Bool) -> Action {
        switch self.state {
        case .idle:
            self.state = endStream ? .activeInboundClosed : .active
            return .startHandler(closeInbound: endStream)
        case .active:
            if self.singleRequest {
                self.state = .endedHandlerRunning
                return .endCall(
                    Status(code: .internal, message: "The client sent more than one request message on a single-request call."),
                    cancelHandler: .streamError
                )
            }
            if endStream { self.state = .activeInboundClosed }
            return .deliver(closeInbound: endStream)
        case .activeInboundClosed:
            self.state = .endedHandlerRunning
            return .endCall(
                Status(code: .internal, message: "The client sent a message after ending its stream."),
                cancelHandler: .streamError
            )
        case .endedHandlerRunning, .closed:
            return .none
        }
    }

    mutating func receiveHalfClose() -> Action {
        switch self.state {
        case .idle:
            self.state = .closed
            return .endCallAndRelease(
                Status(code: .internal, message: "The client ended its stream without sending the request message.")
            )
        case .active:
            self.state = .activeInboundClosed
            return .closeInbound
        case .activeInboundClosed:
            self.state = .endedHandlerRunning
            return .endCall(
                Status(code: .internal, message: "The client ended its stream twice."),
                cancelHandler: .streamError
            )
        case .endedHandlerRunning, .closed:
            return .none
        }
    }

    /// The client sent `CANCEL`: the stream is over without a `CALL_END`.
    mutating func receiveCancel(_ reason: CancelReason) -> Action {
        switch self.state {
        case .idle:
            self.state = .closed
            return .release
        case .active, .activeInboundClosed:
            self.state = .endedHandlerRunning
            return .cancelHandler(reason)
        case .endedHandlerRunning, .closed:
            return .none
        }
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

    private mutating func end(_ status: Status, reason: CancelReason) -> Action {
        switch self.state {
        case .idle:
            self.state = .closed
            return .endCallAndRelease(status)
        case .active, .activeInboundClosed:
            self.state = .endedHandlerRunning
            return .endCall(status, cancelHandler: reason)
        case .endedHandlerRunning, .closed:
            return .none
        }
    }

    /// The handler produced a response message.
    func handlerWrote() -> Action {
        switch self.state {
        case .active, .activeInboundClosed: return .write
        case .idle, .endedHandlerRunning, .closed: return .none
        }
    }

    /// The handler returned (or threw); `status` is its outcome.
    mutating func handlerFinished(_ status: Status) -> Action {
        switch self.state {
        case .active, .activeInboundClosed:
            self.state = .closed
            return .endCallAndRelease(status)
        case .endedHandlerRunning:
            self.state = .closed
            return .release
        case .idle, .closed:
            return .none
        }
    }

    /// The connection is gone: no frame can be sent; a running handler is cancelled.
    mutating func connectionClosed(_ reason: CancelReason) -> Action {
        switch self.state {
        case .idle:
            self.state = .closed
            return .release
        case .active, .activeInboundClosed:
            self.state = .endedHandlerRunning
            return .cancelHandler(reason)
        case .endedHandlerRunning, .closed:
            return .none
        }
    }
}
