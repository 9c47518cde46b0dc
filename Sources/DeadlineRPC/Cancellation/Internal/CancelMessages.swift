import Wire

/// Who ended an outbound call early, so its status names what happened instead of blaming a caller that did
/// nothing: a handler whose deadline passes is cancelled by its server, and its outbound calls end with it.
enum CancelOrigin: Sendable {
    /// The calling task was cancelled, or a combinator cancelled the call (`sibling failed`, `hedge lost`).
    case caller
    /// The call being served ended (its inherited deadline passed, its caller cancelled it, its server is shutting
    /// down), and this call, which inherits its deadline and cancellation, ended with it.
    case servedCall
}

/// The sentences a cancelled call's status carries, as string literals per known cause: a burst of a thousand
/// cancels should not format a thousand strings (interpolation allocates and runs `description` each time).
extension CancelReason {
    /// "The caller cancelled the call (…)." — the client's own cancel.
    var callerCancelledMessage: String {
        switch self.rawValue {
        case 0: return "The caller cancelled the call (cancelled)."
        case 1: return "The caller cancelled the call (deadline exceeded)."
        case 2: return "The caller cancelled the call (shutting down)."
        case 3: return "The caller cancelled the call (sibling failed)."
        case 4: return "The caller cancelled the call (hedge lost)."
        case 5: return "The caller cancelled the call (resource limit)."
        case 6: return "The caller cancelled the call (stream error)."
        default: return "The caller cancelled the call (\(self))."
        }
    }

    /// "The server cancelled the call (…)." — a `CANCEL` frame from the server.
    var serverCancelledMessage: String {
        switch self.rawValue {
        case 0: return "The server cancelled the call (cancelled)."
        case 1: return "The server cancelled the call (deadline exceeded)."
        case 2: return "The server cancelled the call (shutting down)."
        case 3: return "The server cancelled the call (sibling failed)."
        case 4: return "The server cancelled the call (hedge lost)."
        case 5: return "The server cancelled the call (resource limit)."
        case 6: return "The server cancelled the call (stream error)."
        default: return "The server cancelled the call (\(self))."
        }
    }

    /// "The call was cancelled (…)." — what a handler's pending reads and writes fail with.
    var callCancelledMessage: String {
        switch self.rawValue {
        case 0: return "The call was cancelled (cancelled)."
        case 1: return "The call was cancelled (deadline exceeded)."
        case 2: return "The call was cancelled (shutting down)."
        case 3: return "The call was cancelled (sibling failed)."
        case 4: return "The call was cancelled (hedge lost)."
        case 5: return "The call was cancelled (resource limit)."
        case 6: return "The call was cancelled (stream error)."
        default: return "The call was cancelled (\(self))."
        }
    }

    /// The status message of an outbound call ended early by `origin` for this cause.
    func outboundCancelledMessage(_ origin: CancelOrigin) -> String {
        switch origin {
        case .caller: return self.callerCancelledMessage
        case .servedCall: return self.servedCallEndedMessage
        }
    }

    /// "The call being served …" — the served call ended, so the outbound call it made did too. A combinator's
    /// causes keep the caller's sentence: there, a caller (the combinator) did cancel.
    var servedCallEndedMessage: String {
        switch self.rawValue {
        case 0: return "The call being served was cancelled by its caller, and this call with it (cancelled)."
        case 1: return "The deadline this call inherited from the call being served passed; the call was cancelled with its handler (deadline exceeded)."
        case 2: return "The server of the call being served is shutting down; this call was cancelled with its handler (shutting down)."
        case 3, 4: return self.callerCancelledMessage
        case 5: return "The call being served was cancelled (resource limit), and this call with it."
        case 6: return "The call being served was cancelled (stream error), and this call with it."
        default: return "The call being served was cancelled (\(self)), and this call with it."
        }
    }

    /// The message of a call ended by `origin` before it reached a connection (nothing was sent).
    func notSentMessage(_ origin: CancelOrigin) -> String {
        switch (origin, self.rawValue) {
        case (.caller, _), (_, 3), (_, 4): return "The call was cancelled before it was sent."
        case (.servedCall, 1): return "The deadline this call inherited from the call being served passed before the call was sent; nothing was sent."
        case (.servedCall, _): return "The call being served was cancelled (\(self)) before this call was sent; nothing was sent."
        }
    }
}
