/// A token bucket that bounds how much junk a peer may send: each glitch (unknown frame, undefined flags, empty
/// frame, stream error caused by the peer's bytes) spends one token; tokens refill at a steady rate up to the
/// capacity. A pure value: the caller passes the time in, so tests are deterministic.
///
/// It bounds *junk*, never legitimate calls or cancels, so a conforming peer cannot trip it (`docs/LIMITS.md`).
struct GlitchBudget: Sendable, Hashable {
    /// Most tokens held; also the largest burst of glitches tolerated at once.
    let capacity: Int
    /// Tokens added per second.
    let refillPerSecond: Int
    /// Tokens left, scaled by 10^9 so refills of a fraction of a token per nanosecond are not lost.
    private var scaledTokens: Int64
    /// When the bucket was last refilled, in uptime nanoseconds.
    private var refilledAt: Int64
    /// Glitches counted over the connection's life (for metrics and figures).
    private(set) var spent = 0

    /// A full bucket at `now` (uptime nanoseconds).
    init(capacity: Int, refillPerSecond: Int, now: Int64) {
        self.capacity = max(capacity, 0)
        self.refillPerSecond = max(refillPerSecond, 0)
        self.scaledTokens = Int64(self.capacity) * 1_000_000_000
        self.refilledAt = now
    }

    /// Spends one token at `now`; returns false when the bucket is empty, i.e. the peer spent its budget.
    mutating func spend(now: Int64) -> Bool {
        self.spent += 1
        let elapsed = max(now - self.refilledAt, 0)
        self.refilledAt = max(now, self.refilledAt)
        let limit = Int64(self.capacity) * 1_000_000_000
        // elapsed * rate cannot overflow: it is capped before multiplying.
        let refill = min(elapsed, limit) * Int64(self.refillPerSecond)
        self.scaledTokens = min(limit, self.scaledTokens + refill)
        guard self.scaledTokens >= 1_000_000_000 else { return false }
        self.scaledTokens -= 1_000_000_000
        return true
    }
}
