import DeadlineRPC

/// One handler run on an in-process server, as the handler saw it: what ``CallContext`` held when it started, and
/// how it ended. Times are on the test network's manual clock.
public struct HandledCall: Sendable, CustomStringConvertible {
    /// How a handler's run ended.
    public struct End: Sendable, Hashable {
        /// When the handler returned or threw.
        public var at: Deadline
        /// Why its call was cancelled (``CallContext/cancelReason``: `deadlineExceeded`, `cancelled`, …), nil when
        /// it never was.
        public var cancelReason: CancelReason?
        /// Whether its task was cancelled by the time it ended.
        public var taskWasCancelled: Bool
        /// The error it threw (nil when it returned): its `RPCError`, or any other error's description.
        public var error: String?
        /// The status code of the `RPCError` it threw, nil when it returned or threw another error.
        public var errorCode: RPCError.Code?
    }

    /// The name the server was served under (``TestNetwork/serve(_:as:configuration:)``).
    public let server: String
    /// The full method name.
    public let method: String
    /// The server's id for the call.
    public let callID: UInt64
    /// The call's deadline on the manual clock, nil when it has none.
    public let deadline: Deadline?
    /// Time left before the deadline when the handler started, nil when the call has no deadline.
    public let remainingBudget: Duration?
    /// The request metadata the handler was given.
    public let metadata: Metadata
    /// How many calls lie above this one in the chain.
    public let hopCount: Int
    /// The budget the chain's first caller set, when it was sent.
    public let originalBudget: Duration?
    /// When the handler started.
    public let startedAt: Deadline
    /// How it ended; nil while it is still running.
    public internal(set) var end: End?

    /// Whether the handler has not returned yet.
    public var isRunning: Bool { self.end == nil }

    /// `SERVER METHOD #ID (running | ended: CAUSE)`, for reports.
    public var description: String {
        let state: String
        if let end = self.end {
            state = "ended" + (end.cancelReason.map { ", cancelled: \($0)" } ?? "") + (end.error.map { ", threw: \($0)" } ?? "")
        } else {
            state = "still running"
        }
        return "\(self.server) \(self.method) #\(self.callID) (\(state))"
    }
}
