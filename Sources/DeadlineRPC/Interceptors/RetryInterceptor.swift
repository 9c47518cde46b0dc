/// Retries idempotent unary calls that fail with `unavailable`, within the call's budget: an attempt is never
/// started when less than ``Policy/minimumBudgetForAttempt`` would be left after the backoff, and a timeout
/// (`deadlineExceeded`) is never retried — the budget it would retry within is gone.
///
/// ```swift
/// configuration.interceptors = [RetryInterceptor()]  // 3 attempts, 20 ms floor
/// ```
public struct RetryInterceptor: ClientInterceptor {
    /// When and how often to retry.
    public struct Policy: Sendable, Hashable {
        /// Attempts in all, the first included.
        public var maxAttempts: Int = 3
        /// An attempt is not started with less budget than this left (after its backoff).
        public var minimumBudgetForAttempt: Duration = .milliseconds(20)
        /// Delay before the second attempt.
        public var initialBackoff: Duration = .milliseconds(10)
        /// The cap on the delay.
        public var maximumBackoff: Duration = .milliseconds(200)
        /// Growth per further attempt.
        public var multiplier: Double = 2
        /// Fraction of random spread (0.2 = ±20 %), so clients retrying together do not stampede in lockstep.
        public var jitter: Double = 0.2

        /// The defaults: 3 attempts, 10 ms ×2 up to 200 ms, ±20 %, 20 ms floor.
        public init() {}

        func backoff(beforeAttempt attempt: Int) -> Duration {
            let factor = pow(self.multiplier, Double(max(0, attempt - 2)))
            let base = min(Double(self.initialBackoff.nanoseconds) * factor, Double(self.maximumBackoff.nanoseconds))
            let spread = base * self.jitter
            return .nanoseconds(Int64(max(0, base + Double.random(in: -spread...spread))))
        }
    }

    /// The policy.
    public var policy: Policy

    /// Creates a retrying interceptor.
    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Runs the call, then retries it while the policy and the budget allow.
    public func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        // Streaming calls run the caller's body inside `next`; repeating it could repeat side effects.
        guard call.kind == .unary, call.isIdempotent, self.policy.maxAttempts > 1 else {
            return try await next(call)
        }
        var call = call
        while true {
            do {
                return try await next(call)
            } catch let error as RPCError where error.isRetryable && call.attempt < self.policy.maxAttempts {
                let delay = self.policy.backoff(beforeAttempt: call.attempt + 1)
                if let left = call.timeRemaining, left - delay < self.policy.minimumBudgetForAttempt {
                    throw error  // Not enough budget for another attempt to finish: the failure stands.
                }
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw RPCError.cancelled(
                        CallContext.current?.cancelReason ?? .cancelled,
                        "The call was cancelled while waiting to retry."
                    )
                }
                call.attempt += 1
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
