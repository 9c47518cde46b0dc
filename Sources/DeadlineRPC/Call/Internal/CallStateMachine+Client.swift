import Wire

extension CallStateMachine {
    /// The client half: the life of one outbound call, from the moment the caller makes it until it ends, as a pure
    /// value — the single source of truth for whether the call is waiting, open or over. The connection manager
    /// and the connection handler feed it events and do what the returned ``Action`` says.
    ///
    /// §9.3's **idle** is two states here, because the runtime must tell them apart: ``State/idle`` (made, not yet
    /// handed to the connection manager: a cancel racing ahead of the start is remembered and ends the call when
    /// it arrives) and ``State/queued`` (the manager holds it, waiting for a connection or a free stream; its
    /// deadline runs, and ending it sends nothing).
    struct Client: Sendable, Hashable {
        /// Where the call is, in PROTOCOL.md §9.3's words.
        enum State: Sendable, Hashable, CaseIterable {
            /// §9.3 idle: made, not yet handed to the connection manager.
            case idle
            /// §9.3 idle: held by the manager until a connection and a stream are free; no `CALL_START` written.
            case queued
            /// §9.3 open: `CALL_START` written; both directions may carry messages.
            case open
            /// §9.3 half-closed (client): the client sent its last message (`END_STREAM` or `HALF_CLOSE`).
            case halfClosed
            /// §9.3 closed: the call has ended; every later event is dropped.
            case closed
        }

        /// What the connection (or the manager, for a call without a stream) must do.
        enum Action: Sendable, Hashable {
            /// Nothing to do.
            case none
            /// Hand the message to the caller.
            case deliver
            /// Write the caller's message (or half-close) to the wire.
            case write
            /// The request stream is closed: refuse the caller's message (nothing is written).
            case refuse
            /// End the call with the server's outcome (its `CALL_END`); nothing to send.
            case finish(Status)
            /// End the call with this error; nothing to send (for a queued call: take it out of the queue).
            case fail(Status, CancelReason?)
            /// End the call with this error and send `CANCEL` with the reason.
            case failAndCancel(Status, CancelReason)
            /// A frame of the peer for a call that has already ended, legitimately in flight: drop it and count it.
            case dropLateFrame
        }

        /// A cancel that arrived before the call reached the manager (both travel to the loop, by different hops).
        struct PendingCancel: Sendable, Hashable {
            /// Why the call was cancelled.
            var reason: CancelReason
            /// Who cancelled it, for the message.
            var origin: CancelOrigin
        }

        private(set) var state: State = .idle
        /// Whether at most one response message may arrive.
        let singleResponse: Bool
        /// Tests drive every (state, event) pair, our bugs included: they turn the debug trap off.
        private let skipAssertions: Bool
        private var pendingCancel: PendingCancel?
        private var receivedResponse = false
        /// The server marked a message `END_STREAM`: no message may follow (PROTOCOL.md §9.3).
        private var serverEndedStream = false

        /// A call not yet handed to the manager; `skipAssertions` only in tests of impossible events.
        init(singleResponse: Bool, skipAssertions: Bool = false) {
            self.singleResponse = singleResponse
            self.skipAssertions = skipAssertions
        }

        /// Whether the call has ended.
        var isClosed: Bool { self.state == .closed }

        /// Whether the call has a stream (its `CALL_START` was written) and has not ended.
        var isOnStream: Bool { self.state == .open || self.state == .halfClosed }

        // MARK: Local events

        /// The manager took the call: `.none` to go on (queue its deadline, dispatch it), or `.fail` when a cancel
        /// came first (nothing was sent).
        mutating func queued() -> Action {
            switch self.state {
            case .idle:
                if let pending = self.pendingCancel {
                    self.pendingCancel = nil
                    self.state = .closed
                    return .fail(
                        Status(code: pending.reason.statusCode, message: pending.reason.notSentMessage(pending.origin)),
                        pending.reason
                    )
                }
                self.state = .queued
                return .none
            case .queued, .open, .halfClosed, .closed:
                return self.ourBug("a call was handed to the manager twice")
            }
        }

        /// The connection wrote the call's `CALL_START`.
        mutating func streamOpened() {
            switch self.state {
            case .queued:
                self.state = .open
            case .idle, .open, .halfClosed, .closed:
                _ = self.ourBug("a stream was opened for a call that was not queued")
            }
        }

        /// The manager could not send the call (no connection, the client closed, the budget spent, …): end it with
        /// this error, nothing sent.
        mutating func notSent(_ status: Status, _ reason: CancelReason? = nil) -> Action {
            switch self.state {
            case .queued:
                self.state = .closed
                return .fail(status, reason)
            case .idle, .open, .halfClosed, .closed:
                return self.ourBug("a call not waiting to be sent was refused as not sent")
            }
        }

        /// The caller sends a message; `end` half-closes with it.
        mutating func send(end: Bool) -> Action {
            switch self.state {
            case .open:
                if end { self.state = .halfClosed }
                return .write
            case .halfClosed, .closed:
                // The caller wrote after its last message, or after the end: refused, as the caller's mistake.
                return .refuse
            case .idle, .queued:
                return self.ourBug("a message was sent on a call without a stream")
            }
        }

        /// The caller half-closes the request stream (no-op once it is closed).
        mutating func halfClose() -> Action {
            switch self.state {
            case .open:
                self.state = .halfClosed
                return .write
            case .halfClosed, .closed:
                return .none
            case .idle, .queued:
                return self.ourBug("a call without a stream was half-closed")
            }
        }

        /// The call's deadline passed on this host's clock.
        mutating func deadlineExpired() -> Action {
            switch self.state {
            case .queued:
                self.state = .closed
                return .fail(
                    Status(code: .deadlineExceeded, message: "The call's deadline passed while it waited to be sent; nothing was sent."),
                    .deadlineExceeded
                )
            case .open, .halfClosed:
                return self.failAndCancel(
                    Status(code: .deadlineExceeded, message: "The call's deadline passed before it completed."),
                    .deadlineExceeded
                )
            case .idle, .closed:
                // Its deadline is queued when the manager takes it and leaves the queue when it ends.
                return self.ourBug("a deadline fired for a call that was not waiting or open")
            }
        }

        /// The caller's task was cancelled (or a combinator cancelled it, with its own reason), or the call being
        /// served ended and took this call with it (`origin` says which, for the message).
        mutating func callerCancelled(_ reason: CancelReason, origin: CancelOrigin = .caller) -> Action {
            switch self.state {
            case .idle:
                // The cancel overtook the start: remembered, and the call ends when the manager takes it.
                if self.pendingCancel == nil { self.pendingCancel = PendingCancel(reason: reason, origin: origin) }
                return .none
            case .queued:
                self.state = .closed
                return .fail(Status(code: reason.statusCode, message: reason.notSentMessage(origin)), reason)
            case .open, .halfClosed:
                return self.failAndCancel(Status(code: reason.statusCode, message: reason.outboundCancelledMessage(origin)), reason)
            case .closed:
                return .none  // Cancelling a call that has ended is how callers clean up: nothing to do.
            }
        }

        /// The connection was lost, or the server's `GOAWAY` excluded this call.
        /// The server's `GOAWAY` says it never processed the call (its stream id is above the last one the server
        /// accepted, PROTOCOL.md §14.2). When the runtime still holds everything the call is — its one request —
        /// and nothing came back, the call returns to the queue to be sent again on another connection: true. Else
        /// false, and the connection ends it like a lost one (``connectionClosed(_:)``).
        mutating func requeueUnprocessed(resendable: Bool) -> Bool {
            guard resendable, !self.receivedResponse, self.state == .open || self.state == .halfClosed else { return false }
            self.state = .queued
            self.serverEndedStream = false
            return true
        }

        mutating func connectionClosed(_ status: Status) -> Action {
            switch self.state {
            case .open, .halfClosed:
                self.state = .closed
                return .fail(status, nil)
            case .idle, .queued, .closed:
                // A connection ends the calls on its streams, which are open until they end.
                return self.ourBug("a connection ended a call that was not on it")
            }
        }

        // MARK: Frames from the server

        /// A complete response message arrived; `endStream` when it carried `END_STREAM`.
        mutating func receiveMessage(endStream: Bool = false) -> Action {
            switch self.state {
            case .open, .halfClosed:
                if self.serverEndedStream {
                    return self.failAndCancel(
                        Status(code: .internal, message: "The server sent a message after its END_STREAM."),
                        .streamError
                    )
                }
                self.serverEndedStream = endStream
                if self.singleResponse && self.receivedResponse {
                    return self.failAndCancel(
                        Status(code: .internal, message: "The server sent more than one response message on a single-response call."),
                        .streamError
                    )
                }
                self.receivedResponse = true
                return .deliver
            case .closed:
                return .dropLateFrame
            case .idle, .queued:
                return self.ourBug("a frame reached a call without a stream")
            }
        }

        /// The server's `CALL_END` arrived.
        mutating func receiveCallEnd(_ status: Status) -> Action {
            switch self.state {
            case .open, .halfClosed:
                self.state = .closed
                if status.code == .ok && self.singleResponse && !self.receivedResponse {
                    return .fail(Status(code: .internal, message: "The server ended a single-response call with OK but sent no response."), nil)
                }
                return .finish(status)
            case .closed:
                return .dropLateFrame
            case .idle, .queued:
                return self.ourBug("a frame reached a call without a stream")
            }
        }

        /// The server's `CANCEL` arrived.
        mutating func receiveCancel(_ reason: CancelReason) -> Action {
            switch self.state {
            case .open, .halfClosed:
                self.state = .closed
                return .fail(Status(code: reason.statusCode, message: reason.serverCancelledMessage), reason)
            case .closed:
                return .dropLateFrame
            case .idle, .queued:
                return self.ourBug("a frame reached a call without a stream")
            }
        }

        /// The server's reply was invalid for this stream only (undecodable message, bad metadata, too large, …).
        mutating func streamError(_ status: Status) -> Action {
            switch self.state {
            case .open, .halfClosed:
                return self.failAndCancel(status, .streamError)
            case .closed:
                return .dropLateFrame
            case .idle, .queued:
                return self.ourBug("a stream error reached a call without a stream")
            }
        }

        // MARK: Helpers

        private mutating func failAndCancel(_ status: Status, _ reason: CancelReason) -> Action {
            self.state = .closed
            return .failAndCancel(status, reason)
        }

        /// The runtime fed an event its own rules exclude: a trap in debug builds, ignored in release (the state is
        /// left as it was, which is the safe choice for a call).
        private func ourBug(_ what: StaticString) -> Action {
            if !self.skipAssertions {
                assertionFailure("CallStateMachine.Client: \(what) (state \(self.state))")
            }
            return .none
        }
    }
}
