import Wire

/// The client half of one stream's lifecycle, as a pure value: events in, actions out, no I/O and no clock.
///
/// The call ends exactly once: the first of a `CALL_END`, a `CANCEL` from the server, the deadline, the caller's
/// cancellation, a stream error or the connection's loss decides the outcome; every later event is dropped.
struct ClientStreamStateMachine: Sendable, Hashable {
    enum State: Sendable, Hashable, CaseIterable {
        /// Open; the client may still send.
        case open
        /// Open; the client has half-closed (sent its last message).
        case outboundClosed
        /// Ended.
        case closed
    }

    enum Action: Sendable, Hashable {
        /// Nothing to do.
        case none
        /// Hand the message to the caller.
        case deliver
        /// Write the caller's message (or half-close) to the wire.
        case write
        /// End the call with this outcome (from the server's `CALL_END`).
        case finish(Status)
        /// End the call with this error; nothing to send.
        case fail(Status, CancelReason?)
        /// End the call with this error and send `CANCEL` with the reason.
        case failAndCancel(Status, CancelReason)
    }

    private(set) var state: State = .open
    /// Whether at most one response message may arrive.
    let singleResponse: Bool
    private var receivedResponse = false
    /// The server marked a message `END_STREAM`: no message may follow (PROTOCOL.md §9.3).
    private var serverEndedStream = false

    init(singleResponse: Bool) {
        self.singleResponse = singleResponse
    }

    var isClosed: Bool { self.state == .closed }

    /// A complete response message arrived; `endStream` when it carried `END_STREAM`.
    mutating func receiveMessage(endStream: Bool = false) -> Action {
        switch self.state {
        case .open, .outboundClosed:
            if self.serverEndedStream {
                self.state = .closed
                return .failAndCancel(
                    Status(code: .internal, message: "The server sent a message after its END_STREAM."),
                    .streamError
                )
            }
            self.serverEndedStream = endStream
            if self.singleResponse && self.receivedResponse {
                self.state = .closed
                return .failAndCancel(
                    Status(code: .internal, message: "The server sent more than one response message on a single-response call."),
                    .streamError
                )
            }
            self.receivedResponse = true
            return .deliver
        case .closed:
            return .none
        }
    }

    mutating func receiveCallEnd(_ status: Status) -> Action {
        switch self.state {
        case .open, .outboundClosed:
            self.state = .closed
            if status.code == .ok && self.singleResponse && !self.receivedResponse {
                return .fail(Status(code: .internal, message: "The server ended a single-response call with OK but sent no response."), nil)
            }
            return .finish(status)
        case .closed:
            return .none
        }
    }

    mutating func receiveCancel(_ reason: CancelReason) -> Action {
        switch self.state {
        case .open, .outboundClosed:
            self.state = .closed
            return .fail(Status(code: reason.statusCode, message: reason.serverCancelledMessage), reason)
        case .closed:
            return .none
        }
    }

    mutating func deadlineExpired() -> Action {
        self.failAndCancel(Status(code: .deadlineExceeded, message: "The call's deadline passed before it completed."), .deadlineExceeded)
    }

    /// The caller's task was cancelled (or a combinator cancelled it, with its own reason), or the call being served
    /// ended and took this call with it (`origin` says which, for the message).
    mutating func callerCancelled(_ reason: CancelReason, origin: CancelOrigin = .caller) -> Action {
        self.failAndCancel(Status(code: reason.statusCode, message: reason.outboundCancelledMessage(origin)), reason)
    }

    /// The server's reply was invalid for this stream only (undecodable message, bad metadata, …).
    mutating func streamError(_ status: Status) -> Action {
        self.failAndCancel(status, .streamError)
    }

    private mutating func failAndCancel(_ status: Status, _ reason: CancelReason) -> Action {
        switch self.state {
        case .open, .outboundClosed:
            self.state = .closed
            return .failAndCancel(status, reason)
        case .closed:
            return .none
        }
    }

    mutating func connectionClosed(_ status: Status) -> Action {
        switch self.state {
        case .open, .outboundClosed:
            self.state = .closed
            return .fail(status, nil)
        case .closed:
            return .none
        }
    }

    /// The caller sends a message; `end` half-closes with it.
    mutating func send(end: Bool) -> Action {
        switch self.state {
        case .open:
            if end { self.state = .outboundClosed }
            return .write
        case .outboundClosed, .closed:
            return .none
        }
    }
}
