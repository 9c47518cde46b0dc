/// One handler run, of one service, for one request: when it started and ended on the host's monotonic clock,
/// the deadline it was given, and how it ended. The scenario runner compares these with the request's budget.
struct HopRecord: Codable, Sendable, Hashable {
    /// How a handler ended.
    enum Outcome: String, Codable, Sendable, Hashable {
        /// It returned an answer and its call was never cancelled.
        case ok
        /// Its call was cancelled or expired (``HopRecord/detail`` names the cause), whatever the handler did next.
        case cancelled
        /// It failed for another reason (``HopRecord/detail`` names the status).
        case failed
    }

    /// The front door's request id (`demo-request-id` metadata).
    var requestID: String
    /// The service that ran the handler.
    var service: ServiceName
    /// The call's hop count (0 for the gateway, called by the front door).
    var hopCount: Int
    /// When the handler started (monotonic nanoseconds).
    var startedNanoseconds: Int64
    /// When the handler stopped working, or nil while it runs.
    var endedNanoseconds: Int64?
    /// The call's deadline (monotonic nanoseconds), or nil when it had none.
    var deadlineNanoseconds: Int64?
    /// How it ended, or nil while it runs.
    var outcome: Outcome?
    /// The cancel cause or the failure status.
    var detail: String?
}
