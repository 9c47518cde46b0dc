#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension RetryInterceptor {
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

        /// The delay before `attempt` (2 for the first retry). Out-of-range settings (a negative or NaN multiplier or
        /// jitter, negative backoffs) are clamped rather than trapping: at most `maximumBackoff` ± `jitter`.
        func backoff(beforeAttempt attempt: Int) -> Duration {
            let cap = Double(max(0, self.maximumBackoff.nanoseconds))
            let grown = Double(max(0, self.initialBackoff.nanoseconds)) * pow(self.multiplier, Double(max(0, attempt - 2)))
            let base = grown.isNaN ? cap : min(max(0, grown), cap)
            let jitter = self.jitter.isNaN ? 0 : min(max(0, self.jitter), 1)
            let spread = base * jitter
            let delay = spread > 0 ? base + Double.random(in: -spread...spread) : base
            return .nanoseconds(Int64(min(max(0, delay), Double(1 << 62))))  // 2^62 ns, some 146 years: converts exactly
        }
    }
}
