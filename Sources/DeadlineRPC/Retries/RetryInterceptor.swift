import CoreMetrics

/// Retries idempotent unary calls that fail with `unavailable`, within the call's budget and a ``RetryBudget``:
/// an attempt is never started when less than ``Policy/minimumBudgetForAttempt`` would be left after the backoff,
/// a timeout (`deadlineExceeded`) is never retried — the budget it would retry within is gone — and a retry the
/// retry budget cannot pay for is not made. A retry not made leaves the attempt's own failure standing, at once.
///
/// ```swift
/// configuration.interceptors = [RetryInterceptor()]  // 3 attempts, 20 ms floor, 20 % of calls + 10/s
/// ```
///
/// Every call through the interceptor deposits in its budget, whatever its kind. Copies of one interceptor share
/// its budget and its ``stats``; pass the same ``RetryBudget`` to several interceptors to cap several clients
/// together. Exported through swift-metrics: `<prefix>_client_retries_total{method}` (retries sent) and
/// `<prefix>_client_retries_refused_total{method,reason}` with `reason` one of `retry_budget`, `deadline` and
/// `max_attempts`.
public struct RetryInterceptor: ClientInterceptor {
    /// The policy.
    public var policy: Policy
    /// The budget every call through this interceptor deposits in and every retry withdraws from.
    public let budget: RetryBudget
    /// What this interceptor retried and refused.
    public let stats: Stats

    /// Creates a retrying interceptor.
    ///
    /// - Parameters:
    ///   - policy: When and how often to retry.
    ///   - budget: The retry budget; by default one of its own with Finagle's defaults (see ``RetryBudget/init()``).
    ///   - prefix: The metric names' prefix.
    ///   - factory: Where metrics go; nil uses the process-wide `MetricsSystem`.
    public init(
        policy: Policy = Policy(),
        budget: RetryBudget = RetryBudget(),
        prefix: String = "drpc",
        factory: (any MetricsFactory)? = nil
    ) {
        self.policy = policy
        self.budget = budget
        self.stats = Stats(prefix: prefix, factory: factory ?? MetricsSystem.factory)
    }

    /// Runs the call, then retries it while the policy, the call's deadline and the retry budget allow.
    public func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        self.budget.deposit()
        // Streaming calls run the caller's body inside `next`; repeating it could repeat side effects.
        guard call.kind == .unary, call.isIdempotent, self.policy.maxAttempts > 1 else {
            return try await next(call)
        }
        var call = call
        while true {
            do {
                return try await next(call)
            } catch let error as RPCError where error.isRetryable {
                // Every refusal leaves the attempt's own failure standing, without waiting for a backoff.
                guard call.attempt < self.policy.maxAttempts else {
                    self.stats.recordRefused(method: call.method, reason: .maxAttempts)
                    throw error
                }
                let delay = self.policy.backoff(beforeAttempt: call.attempt + 1)
                if let left = call.timeRemaining, left - delay < self.policy.minimumBudgetForAttempt {
                    self.stats.recordRefused(method: call.method, reason: .deadline)
                    throw error
                }
                // Checked last, so that a retry refused for another reason costs the budget nothing.
                guard self.budget.tryWithdraw() else {
                    self.stats.recordRefused(method: call.method, reason: .retryBudget)
                    throw error
                }
                do {
                    try await ManualClock.sleep(for: delay)
                } catch {
                    throw RPCError.cancelled(
                        CallContext.current?.cancelReason ?? .cancelled,
                        "The call was cancelled while waiting to retry."
                    )
                }
                call.attempt += 1
                self.stats.recordRetry(method: call.method)
            }
        }
    }
}
