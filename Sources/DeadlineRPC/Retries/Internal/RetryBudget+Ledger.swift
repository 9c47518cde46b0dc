extension RetryBudget {
    /// A retry budget's arithmetic, with time passed in (the time since the budget was made) so that tests can
    /// drive it exactly; ``RetryBudget`` wraps it in a lock and reads the clock.
    ///
    /// The window is Finagle's `WindowedAdder` (`TokenBucket.newLeakyBucket`): `ttl` cut into ``slices`` slices of
    /// `ttl / slices`; an entry lives in the slice of its time and counts until ``slices`` slices later begin, so
    /// for between `ttl - ttl/slices` and `ttl`. Deposits add `percentCanRetry` of a retry, withdrawals take one
    /// whole retry, and both expire — a retry made from the reserve gives its place back a `ttl` later. The balance
    /// is the window's sum plus a constant reserve of `minRetriesPerSecond × ttl` retries.
    ///
    /// Amounts are in thousandths of a retry (the precision of Finagle's `percentCanRetry` and grpc's
    /// `tokenRatio`), so that a window's sum is exact and cannot overflow at any real call rate.
    struct Ledger: Sendable, Equatable {
        /// Slices per window, as Finagle's leaky bucket has.
        static let slices = 10
        /// One retry, in the ledger's units.
        static let retry: Int64 = 1_000

        /// How long one slice lasts, in nanoseconds (`ttl / slices`).
        let sliceNanoseconds: Int64
        /// What a call deposits: `percentCanRetry` retries.
        let depositAmount: Int64
        /// Retries always available in a window beyond deposits: `minRetriesPerSecond × ttl`.
        let reserve: Int64
        /// Per-slice sums of deposits (positive) and withdrawals (negative), a ring indexed by slice number.
        private var slices: [Int64]
        /// The newest slice seen; earlier times count in it (a caller that read the clock before another took the
        /// lock is a few nanoseconds late, not in the past).
        private var current: Int64 = 0
        /// The sum of `slices`, kept so that a withdrawal is O(1).
        private var sum: Int64 = 0

        /// A ledger for validated parameters (see ``RetryBudget/init(ttl:minRetriesPerSecond:percentCanRetry:)``).
        init(ttl: Duration, minRetriesPerSecond: Int, percentCanRetry: Double) {
            let ttlNanoseconds = ttl.nanoseconds
            self.sliceNanoseconds = max(1, ttlNanoseconds / Int64(Self.slices))
            self.depositAmount = Int64((percentCanRetry * Double(Self.retry)).rounded())
            // retries per second × seconds × units per retry = retries per second × milliseconds.
            self.reserve = Int64(minRetriesPerSecond) * (ttlNanoseconds / 1_000_000)
            self.slices = Array(repeating: 0, count: Self.slices)
        }

        /// Counts one call made at `now`.
        mutating func deposit(now: Duration) {
            let index = self.advance(to: now)
            self.slices[index] += self.depositAmount
            self.sum += self.depositAmount
        }

        /// Takes one retry if the balance at `now` holds one; a refusal changes nothing.
        mutating func tryWithdraw(now: Duration) -> Bool {
            let index = self.advance(to: now)
            guard self.sum + self.reserve >= Self.retry else { return false }
            self.slices[index] -= Self.retry
            self.sum -= Self.retry
            return true
        }

        /// Whole retries allowed at `now`.
        mutating func balance(now: Duration) -> Int {
            _ = self.advance(to: now)
            return Int(max(0, (self.sum + self.reserve) / Self.retry))
        }

        /// Expires the slices that ended by `now` and returns the ring index of the current slice. At most
        /// ``slices`` slices are cleared however long the ledger was idle.
        private mutating func advance(to now: Duration) -> Int {
            let slice = max(0, now.nanoseconds) / self.sliceNanoseconds
            if slice > self.current {
                let expired = min(slice - self.current, Int64(Self.slices))
                for step in 1...expired {
                    let index = Int((self.current + step) % Int64(Self.slices))
                    self.sum -= self.slices[index]
                    self.slices[index] = 0
                }
                self.current = slice
            }
            return Int(self.current % Int64(Self.slices))
        }
    }
}
