import Wire

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
}
