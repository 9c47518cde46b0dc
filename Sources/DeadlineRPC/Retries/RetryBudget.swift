import Synchronization

/// Caps retries at a share of recent calls so that a failing service is not hit by a retry storm: every call
/// deposits, every retry withdraws, and a retry the budget cannot pay for is not made.
///
/// These are Finagle's `RetryBudget` semantics, with its defaults: within a window of `ttl` (10 s), retries may
/// reach `percentCanRetry` (20 %) of the calls made plus a reserve of `minRetriesPerSecond × ttl` (10/s × 10 s = 100)
/// so that a client that has just started, or makes few calls, can still retry. Deposits and withdrawals both
/// expire after about `ttl`, so the reserve refills at `minRetriesPerSecond` and can be spent in a burst.
///
/// How the peers compare:
/// - Finagle (`RetryBudget(ttl = 10.seconds, minRetriesPerSec = 10, percentCanRetry = 0.2)`, one per client) and
///   tower (`TpsBudget::new(ttl, min_per_sec, retry_percent)`) are the model: a share of call volume, time-based.
/// - grpc's retry throttling (gRFC A6, `retryThrottling: {maxTokens, tokenRatio}` per server name) is off unless
///   the service config sets it. It counts outcomes, not time: a token bucket starts full at `maxTokens` (at most
///   1000), each failed attempt takes 1, each success adds `tokenRatio`, and retries stop while the tokens are at
///   or below `maxTokens / 2` — a failure ratio above about `tokenRatio / (1 + tokenRatio)` turns retries off.
///
/// One budget is meant to be shared: by default every call through one ``RetryInterceptor`` (and its copies) uses
/// the same budget; pass one budget to several interceptors to cap the retries of several clients together.
/// Each operation takes a lock and does constant work.
public final class RetryBudget: Sendable {
    /// How long a deposit or withdrawal counts.
    public let ttl: Duration
    /// The reserve: retries allowed per second of `ttl` whatever the call volume.
    public let minRetriesPerSecond: Int
    /// Retries each call allows: 0.2 means one retry per five calls; 2 means two per call.
    public let percentCanRetry: Double

    private let ledger: Mutex<Ledger>
    /// Time since the budget was made; injectable so that tests move time by hand.
    private let elapsed: @Sendable () -> Duration

    /// Finagle's defaults: 20 % of the calls of the last 10 s, plus 10 retries per second.
    public convenience init() {
        self.init(validated: .seconds(10), minRetriesPerSecond: 10, percentCanRetry: 0.2, elapsed: nil)
    }

    /// A budget allowing `percentCanRetry` of the calls made within `ttl`, plus `minRetriesPerSecond` per second.
    ///
    /// - Parameters:
    ///   - ttl: How long a call's deposit counts: 1 to 60 seconds (Finagle's bounds).
    ///   - minRetriesPerSecond: The reserve, 0 to 1,000,000; 0 gives none.
    ///   - percentCanRetry: Retries per call, 0 to 1000 in steps of 0.001; 0 leaves only the reserve.
    /// - Throws: ``RetryBudgetError`` naming the parameter that is out of range.
    public convenience init(
        ttl: Duration = .seconds(10),
        minRetriesPerSecond: Int = 10,
        percentCanRetry: Double = 0.2
    ) throws(RetryBudgetError) {
        try Self.validate(ttl: ttl, minRetriesPerSecond: minRetriesPerSecond, percentCanRetry: percentCanRetry)
        self.init(validated: ttl, minRetriesPerSecond: minRetriesPerSecond, percentCanRetry: percentCanRetry, elapsed: nil)
    }

    /// A budget whose clock a test drives: `elapsed` returns the time since the budget was made.
    convenience init(
        ttl: Duration,
        minRetriesPerSecond: Int,
        percentCanRetry: Double,
        elapsed: @escaping @Sendable () -> Duration
    ) throws(RetryBudgetError) {
        try Self.validate(ttl: ttl, minRetriesPerSecond: minRetriesPerSecond, percentCanRetry: percentCanRetry)
        self.init(validated: ttl, minRetriesPerSecond: minRetriesPerSecond, percentCanRetry: percentCanRetry, elapsed: elapsed)
    }

    private init(
        validated ttl: Duration,
        minRetriesPerSecond: Int,
        percentCanRetry: Double,
        elapsed: (@Sendable () -> Duration)?
    ) {
        self.ttl = ttl
        self.minRetriesPerSecond = minRetriesPerSecond
        self.percentCanRetry = percentCanRetry
        self.ledger = Mutex(Ledger(ttl: ttl, minRetriesPerSecond: minRetriesPerSecond, percentCanRetry: percentCanRetry))
        if let elapsed {
            self.elapsed = elapsed
        } else {
            let origin = ContinuousClock.now
            self.elapsed = { ContinuousClock.now - origin }
        }
    }

    /// Counts one call: it allows `percentCanRetry` retries for the next `ttl`.
    public func deposit() {
        self.ledger.withLock { $0.deposit(now: self.elapsed()) }
    }

    /// Takes one retry from the budget; false (and nothing taken) when the budget cannot pay for it.
    public func tryWithdraw() -> Bool {
        self.ledger.withLock { $0.tryWithdraw(now: self.elapsed()) }
    }

    /// How many retries the budget would allow now.
    public var balance: Int {
        self.ledger.withLock { $0.balance(now: self.elapsed()) }
    }

    private static func validate(ttl: Duration, minRetriesPerSecond: Int, percentCanRetry: Double) throws(RetryBudgetError) {
        guard ttl >= .seconds(1), ttl <= .seconds(60) else {
            throw RetryBudgetError(reason: "ttl must be between 1 and 60 seconds (is \(ttl))")
        }
        guard (0...1_000_000).contains(minRetriesPerSecond) else {
            throw RetryBudgetError(reason: "minRetriesPerSecond must be between 0 and 1000000 (is \(minRetriesPerSecond))")
        }
        guard percentCanRetry.isFinite, (0...1000).contains(percentCanRetry) else {
            throw RetryBudgetError(reason: "percentCanRetry must be between 0 and 1000 (is \(percentCanRetry))")
        }
        guard percentCanRetry == 0 || percentCanRetry >= 0.001 else {
            throw RetryBudgetError(reason: "percentCanRetry must be 0 or at least 0.001, the budget's precision (is \(percentCanRetry))")
        }
    }
}
