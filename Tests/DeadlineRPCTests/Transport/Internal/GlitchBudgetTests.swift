import Testing

@testable import DeadlineRPC

/// The glitch budget as a pure value: exact boundaries with time passed in.
@Suite("GlitchBudget")
struct GlitchBudgetTests {
    /// One second in nanoseconds.
    static let second: Int64 = 1_000_000_000

    @Test("A full bucket takes exactly `capacity` glitches at one instant, then refuses")
    func burstBoundary() {
        var budget = GlitchBudget(capacity: 1000, refillPerSecond: 100, now: 0)
        for _ in 0..<1000 { let ok = budget.spend(now: 0); #expect(ok) }
        do { let ok = budget.spend(now: 0); #expect(!ok) }
        #expect(budget.spent == 1001)
    }

    @Test("Refill is 100 per second, never above capacity")
    func refill() {
        var budget = GlitchBudget(capacity: 1000, refillPerSecond: 100, now: 0)
        for _ in 0..<1000 { _ = budget.spend(now: 0) }
        // 1 s later: exactly 100 more.
        for _ in 0..<100 { let ok = budget.spend(now: Self.second); #expect(ok) }
        do { let ok = budget.spend(now: Self.second); #expect(!ok) }
        // An hour of quiet refills to the capacity, not beyond.
        var full = 0
        while budget.spend(now: 3600 * Self.second) { full += 1 }
        #expect(full == 1000)
    }

    @Test("Fractions of a token accumulate: one glitch per 10 ms is sustainable forever at 100/s")
    func sustainedRate() {
        var budget = GlitchBudget(capacity: 1000, refillPerSecond: 100, now: 0)
        for _ in 0..<1000 { _ = budget.spend(now: 0) }  // empty
        var now: Int64 = 0
        for _ in 0..<10_000 {
            now += Self.second / 100
            do { let ok = budget.spend(now: now); #expect(ok) }
        }
    }

    @Test("Zero capacity refuses the first glitch; a clock going backwards refills nothing")
    func edges() {
        var zero = GlitchBudget(capacity: 0, refillPerSecond: 100, now: 0)
        do { let ok = zero.spend(now: 10 * Self.second); #expect(!ok) }
        var budget = GlitchBudget(capacity: 1, refillPerSecond: 1, now: 100 * Self.second)
        do { let ok = budget.spend(now: 100 * Self.second); #expect(ok) }
        do { let ok = budget.spend(now: 0); #expect(!ok) }
        do { let ok = budget.spend(now: 100 * Self.second); #expect(!ok) }
        do { let ok = budget.spend(now: 101 * Self.second); #expect(ok) }
    }
}
