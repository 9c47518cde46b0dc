import Testing

@testable import DeadlineRPC

/// The ping policy as a pure value.
@Suite("PingPolicy")
struct PingPolicyTests {
    static let second: Int64 = 1_000_000_000

    @Test("Defaults: three early pings in a row are answered, the fourth (third strike) is refused")
    func thirdStrike() {
        var policy = PingPolicy(minimumInterval: 5 * Self.second, toleratedStrikes: 2)
        do { let ok = policy.receivedPing(now: 0); #expect(ok) }
        do { let ok = policy.receivedPing(now: 1); #expect(ok) }
        do { let ok = policy.receivedPing(now: 2); #expect(ok) }
        do { let ok = policy.receivedPing(now: 3); #expect(!ok) }
    }

    @Test("Pings exactly at the minimum interval never strike, for a day")
    func permittedInterval() {
        var policy = PingPolicy(minimumInterval: 5 * Self.second, toleratedStrikes: 0)
        for index in 0..<(86_400 / 5) {
            do { let ok = policy.receivedPing(now: Int64(index) * 5 * Self.second); #expect(ok) }
        }
    }

    @Test("A ping after the interval clears the strikes")
    func strikesReset() {
        var policy = PingPolicy(minimumInterval: 5 * Self.second, toleratedStrikes: 2)
        do { let ok = policy.receivedPing(now: 0); #expect(ok) }
        do { let ok = policy.receivedPing(now: 1); #expect(ok) }
        do { let ok = policy.receivedPing(now: 2); #expect(ok) }  // 2 strikes
        do { let ok = policy.receivedPing(now: 8 * Self.second); #expect(ok) }  // cleared
        #expect(policy.strikes == 0)
        do { let ok = policy.receivedPing(now: 8 * Self.second + 1); #expect(ok) }
        do { let ok = policy.receivedPing(now: 8 * Self.second + 2); #expect(ok) }
        do { let ok = policy.receivedPing(now: 8 * Self.second + 3); #expect(!ok) }
    }
}
