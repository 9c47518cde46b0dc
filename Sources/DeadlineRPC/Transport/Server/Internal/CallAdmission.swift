import Wire

/// Whether a new call may start on a server connection, and with which deadline: the refusals in the order of
/// `docs/PROTOCOL.md` §9.3 (draining, the client's `GOAWAY`, the stream limit, an unknown method, an unsupported
/// encoding, a spent or too small budget), then the budget anchored at the arrival time, capped by
/// `maxInboundBudget`. A pure value: the connection passes in what it knows and `now`, and does what the decision
/// says (write the `CALL_END`, count the refusal).
struct CallAdmission: Sendable {
    /// Why a call was refused; the connection counts each kind in its own metric.
    enum Refusal: Hashable, Sendable {
        /// The server is shutting down (it sent `GOAWAY`).
        case draining
        /// The client sent `GOAWAY` (§14.2).
        case peerWentAway
        /// The connection already has `maxConcurrentStreams` calls open.
        case streamLimit
        /// No handler is registered for the method.
        case unknownMethod
        /// The call's message encoding is one this server does not implement.
        case unsupportedEncoding
        /// The budget is spent, or below the server's minimum: the call is shed.
        case budgetTooSmall
    }

    /// What to do with a `CALL_START`.
    enum Decision: Hashable, Sendable {
        /// Answer at once with `CALL_END(code, message)`; no handler starts.
        case refuse(Refusal, code: Status.Code, message: String)
        /// Start the call with this deadline (nil: none) and the first caller's budget, if the client sent it.
        case accept(deadline: Deadline?, originalBudget: Duration?)
    }

    /// Most calls open at once on one connection.
    let maxConcurrentStreams: Int
    /// The longest budget a call is given, whatever it asks for; a call without a deadline gets this one.
    let maxInboundBudget: Duration?
    /// Calls arriving with less left are shed.
    let minimumBudget: Duration

    /// The limits of `configuration`.
    init(configuration: RPCServer.Configuration) {
        self.init(
            maxConcurrentStreams: configuration.maxConcurrentStreams,
            maxInboundBudget: configuration.maxInboundBudget,
            minimumBudget: configuration.minimumBudget
        )
    }

    /// Explicit limits (for tests).
    init(maxConcurrentStreams: Int, maxInboundBudget: Duration?, minimumBudget: Duration) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxInboundBudget = maxInboundBudget
        self.minimumBudget = minimumBudget
    }

    /// Decides on `start`, arriving at `now` (uptime nanoseconds) on a connection that is `draining` or not, whose
    /// peer sent `GOAWAY` or not, with `openCalls` calls open as the client counts them, where the method is known
    /// or not.
    func decide(
        _ start: CallStart,
        draining: Bool,
        peerSentGoAway: Bool,
        openCalls: Int,
        methodIsKnown: Bool,
        now: Int64
    ) -> Decision {
        if draining {
            return .refuse(.draining, code: .unavailable, message: "The server is shutting down and accepts no new calls on this connection.")
        }
        if peerSentGoAway {
            return .refuse(.peerWentAway, code: .unavailable, message: "The client sent GOAWAY; no new call starts on this connection.")
        }
        if openCalls >= self.maxConcurrentStreams {
            return .refuse(
                .streamLimit,
                code: .resourceExhausted,
                message: "The connection already has \(openCalls) calls open, the most this server allows (\(self.maxConcurrentStreams))."
            )
        }
        guard methodIsKnown else {
            return .refuse(.unknownMethod, code: .unimplemented, message: "Method '\(start.method)' is not implemented on this server.")
        }
        if start.encoding != .identity && !start.encoding.isSupported {
            return .refuse(
                .unsupportedEncoding,
                code: .unimplemented,
                message: "Message encoding \(start.encoding) is not supported by this server."
            )
        }
        let arrival = Deadline(uptimeNanoseconds: now)
        guard let budget = start.budget else {
            // A call without a deadline from an untrusted peer gets the cap as its budget: none runs forever.
            return .accept(deadline: self.maxInboundBudget.map { arrival + $0 }, originalBudget: nil)
        }
        var remaining = Duration.microseconds(budget.remainingMicroseconds)
        if let cap = self.maxInboundBudget, remaining > cap { remaining = cap }
        if remaining <= .zero || remaining < self.minimumBudget {
            let message =
                remaining <= .zero
                ? "The call arrived with its budget already spent; the handler was not started."
                : "The call arrived with \(remaining) left, below this server's minimum of \(self.minimumBudget); the handler was not started."
            return .refuse(.budgetTooSmall, code: .deadlineExceeded, message: message)
        }
        let originalBudget: Duration? =
            budget.originalMicroseconds > 0 ? .microseconds(budget.originalMicroseconds) : nil
        return .accept(deadline: arrival + remaining, originalBudget: originalBudget)
    }
}
