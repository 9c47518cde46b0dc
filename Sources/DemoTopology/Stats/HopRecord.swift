/// One handler run, of one service, for one request: when it started and ended on the host's monotonic clock,
/// the deadline it was given, and how it ended. The scenario runner compares these with the request's budget.
package struct HopRecord: Codable, Sendable, Hashable {
    /// How a handler ended.
    package enum Outcome: String, Codable, Sendable, Hashable {
        /// It returned an answer and its call was never cancelled.
        case ok
        /// Its call was cancelled or expired (``HopRecord/detail`` names the cause), whatever the handler did next.
        case cancelled
        /// It failed for another reason (``HopRecord/detail`` names the status).
        case failed
    }

    /// The front door's request id (`demo-request-id` metadata).
    package var requestID: String
    /// The service that ran the handler.
    package var service: ServiceName
    /// The call's hop count (0 for the gateway, called by the front door).
    package var hopCount: Int
    /// When the handler started (monotonic nanoseconds).
    package var startedNanoseconds: Int64
    /// When the handler stopped working, or nil while it runs.
    package var endedNanoseconds: Int64?
    /// The call's deadline (monotonic nanoseconds), or nil when it had none.
    package var deadlineNanoseconds: Int64?
    /// How it ended, or nil while it runs.
    package var outcome: Outcome?
    /// The cancel cause or the failure status.
    package var detail: String?
    /// When the handler's task was cancelled (its cancellation handler ran), or nil if it never was: rpcbench
    /// measures the cancel's travel time to each hop from it.
    package var cancelledNanoseconds: Int64? = nil
    /// Whether the handler returned an answer — true for the fraud service even when its call had been cancelled
    /// (it works on regardless); nil while it runs.
    package var completed: Bool? = nil

    /// Creates the record of a handler that has just started.
    package init(requestID: String, service: ServiceName, hopCount: Int, startedNanoseconds: Int64, deadlineNanoseconds: Int64?) {
        self.requestID = requestID
        self.service = service
        self.hopCount = hopCount
        self.startedNanoseconds = startedNanoseconds
        self.deadlineNanoseconds = deadlineNanoseconds
    }
}
