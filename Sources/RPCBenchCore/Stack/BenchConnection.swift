/// One client connection to the bench service, over whichever RPC stack is being measured. The workload (victims
/// and storm) is written once against this protocol, so DeadlineRPC and its peers run exactly the same calls.
public protocol BenchConnection: Sendable {
    /// Calls the echo method (a victim) with `timeout` as the call's deadline.
    func echo(_ request: BenchRequest, timeout: Duration) async -> CallOutcome
    /// Calls the work method (a storm call); `timeout` nil sends no deadline. Cancelling the calling task cancels
    /// the call, as the stack's users would cancel it.
    func work(_ request: BenchRequest, timeout: Duration?) async -> CallOutcome
    /// Closes the connection abruptly: calls in flight are not cancelled one by one, the transport goes away.
    func close() async
}
