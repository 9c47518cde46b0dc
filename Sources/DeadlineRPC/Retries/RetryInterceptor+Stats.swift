import CoreMetrics
import Synchronization

extension RetryInterceptor {
    /// Why a retryable failure was not retried.
    enum Refusal: String, Sendable {
        /// The ``RetryBudget`` could not pay for the retry.
        case retryBudget = "retry_budget"
        /// Less than ``Policy/minimumBudgetForAttempt`` would be left of the call's deadline after the backoff.
        case deadline
        /// The failed attempt was the policy's last.
        case maxAttempts = "max_attempts"
    }

    /// What a ``RetryInterceptor`` (and its copies) retried and refused, readable at any time and exported through
    /// swift-metrics as `<prefix>_client_retries_total{method}` and
    /// `<prefix>_client_retries_refused_total{method,reason}`.
    public final class Stats: Sendable {
        private let sent = Atomic<Int>(0)
        private let refusedByBudget = Atomic<Int>(0)
        private let refusedByDeadline = Atomic<Int>(0)
        private let refusedAtLastAttempt = Atomic<Int>(0)
        private let prefix: String
        private let factory: any MetricsFactory

        init(prefix: String, factory: any MetricsFactory) {
            self.prefix = prefix
            self.factory = factory
        }

        /// Retries sent (attempts after the first).
        public var retries: Int { self.sent.load(ordering: .relaxed) }
        /// Retries not made because the ``RetryBudget`` could not pay for them (`reason="retry_budget"`).
        public var refusedByRetryBudget: Int { self.refusedByBudget.load(ordering: .relaxed) }
        /// Retries not made because too little of the call's deadline would be left (`reason="deadline"`).
        public var refusedByDeadlineFloor: Int { self.refusedByDeadline.load(ordering: .relaxed) }
        /// Retryable failures of the policy's last attempt (`reason="max_attempts"`).
        public var refusedAtMaxAttempts: Int { self.refusedAtLastAttempt.load(ordering: .relaxed) }

        func recordRetry(method: String) {
            self.sent.add(1, ordering: .relaxed)
            Counter(label: "\(self.prefix)_client_retries_total", dimensions: [("method", method)], factory: self.factory)
                .increment()
        }

        func recordRefused(method: String, reason: Refusal) {
            switch reason {
            case .retryBudget: self.refusedByBudget.add(1, ordering: .relaxed)
            case .deadline: self.refusedByDeadline.add(1, ordering: .relaxed)
            case .maxAttempts: self.refusedAtLastAttempt.add(1, ordering: .relaxed)
            }
            Counter(
                label: "\(self.prefix)_client_retries_refused_total",
                dimensions: [("method", method), ("reason", reason.rawValue)],
                factory: self.factory
            ).increment()
        }
    }
}
