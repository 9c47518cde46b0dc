@testable import DeadlineRPC
import Synchronization
import Testing

/// Time a test moves by hand: a ``RetryBudget`` made with `elapsed: { clock.now }` sees only these moves.
final class BudgetTestClock: Sendable {
    private let elapsed = Mutex<Duration>(.zero)
    var now: Duration { self.elapsed.withLock { $0 } }
    func set(_ time: Duration) { self.elapsed.withLock { $0 = time } }
}

@Suite("RetryBudget: a share of recent calls plus a floor per second, with Finagle's window", .timeLimit(.minutes(5)))
struct RetryBudgetTests {
    /// A budget on `clock`.
    static func budget(
        _ clock: BudgetTestClock,
        ttl: Duration = .seconds(10),
        minRetriesPerSecond: Int,
        percentCanRetry: Double
    ) throws -> RetryBudget {
        try RetryBudget(ttl: ttl, minRetriesPerSecond: minRetriesPerSecond, percentCanRetry: percentCanRetry, elapsed: { clock.now })
    }

    /// How many of `count` withdrawals succeed.
    static func withdraw(_ count: Int, from budget: RetryBudget) -> Int {
        (0..<count).count(where: { _ in budget.tryWithdraw() })
    }

    @Test("The defaults are Finagle's: 10 s window, 10 retries per second, 20 % of calls")
    func defaults() throws {
        let budget = RetryBudget()
        #expect(budget.ttl == .seconds(10))
        #expect(budget.minRetriesPerSecond == 10)
        #expect(budget.percentCanRetry == 0.2)
        let clock = BudgetTestClock()
        let same = try RetryBudget(ttl: .seconds(10), minRetriesPerSecond: 10, percentCanRetry: 0.2, elapsed: { clock.now })
        // With no calls yet the reserve alone allows 10/s × 10 s, spendable at once.
        #expect(same.balance == 100)
        #expect(Self.withdraw(101, from: same) == 100)
        #expect(same.balance == 0)
        // Then five calls pay for one more retry.
        for _ in 0..<4 { same.deposit() }
        #expect(!same.tryWithdraw())
        same.deposit()
        #expect(same.tryWithdraw())
        #expect(!same.tryWithdraw())
    }

    @Test("Percentage: each call deposits percentCanRetry of a retry; a refusal takes nothing")
    func percentage() throws {
        let clock = BudgetTestClock()
        let fifth = try Self.budget(clock, minRetriesPerSecond: 0, percentCanRetry: 0.2)
        #expect(fifth.balance == 0)
        #expect(!fifth.tryWithdraw())
        for _ in 0..<4 { fifth.deposit() }
        #expect(fifth.balance == 0)
        #expect(Self.withdraw(10, from: fifth) == 0)  // refused ten times: still 0.8 of a retry in the window
        fifth.deposit()
        #expect(fifth.balance == 1)
        for _ in 0..<10 { fifth.deposit() }
        #expect(fifth.balance == 3)
        #expect(Self.withdraw(5, from: fifth) == 3)

        let third = try Self.budget(clock, minRetriesPerSecond: 0, percentCanRetry: 0.333)
        for _ in 0..<3 { third.deposit() }
        #expect(third.balance == 0)  // 0.999: exact thousandths, no rounding up
        third.deposit()
        #expect(third.balance == 1)

        let twice = try Self.budget(clock, minRetriesPerSecond: 0, percentCanRetry: 2)
        twice.deposit()
        #expect(Self.withdraw(3, from: twice) == 2)

        let none = try Self.budget(clock, minRetriesPerSecond: 0, percentCanRetry: 0)
        for _ in 0..<1000 { none.deposit() }
        #expect(!none.tryWithdraw())
    }

    @Test("Floor per second: the reserve is minRetriesPerSecond × ttl, and each second's retries come back a ttl later")
    func floorPerSecond() throws {
        let clock = BudgetTestClock()
        let budget = try Self.budget(clock, ttl: .seconds(10), minRetriesPerSecond: 10, percentCanRetry: 0)
        // Ten retries in each of the first ten seconds use the whole reserve…
        for second in 0..<10 {
            clock.set(.seconds(second))
            #expect(Self.withdraw(10, from: budget) == 10)
        }
        clock.set(.milliseconds(9_999))
        #expect(budget.balance == 0)
        #expect(!budget.tryWithdraw())
        // …and from then on exactly ten per second are allowed: second 0's retries expire as second 10 begins.
        for second in 10..<25 {
            clock.set(.seconds(second))
            #expect(budget.balance == 10)
            #expect(Self.withdraw(11, from: budget) == 10)
        }
        // A fractional window keeps the product: 4/s × 2.5 s = 10.
        let short = try Self.budget(BudgetTestClock(), ttl: .milliseconds(2_500), minRetriesPerSecond: 4, percentCanRetry: 0)
        #expect(short.balance == 10)
    }

    @Test("TTL: a deposit counts until ttl/10-slices later begin, so for between 0.9 ttl and ttl; idle time empties the window")
    func ttlExpiry() throws {
        let clock = BudgetTestClock()
        let budget = try Self.budget(clock, ttl: .seconds(10), minRetriesPerSecond: 0, percentCanRetry: 1)
        for _ in 0..<3 { budget.deposit() }  // slice 0 ([0 s, 1 s))
        clock.set(.milliseconds(500))
        for _ in 0..<2 { budget.deposit() }  // slice 0 as well
        clock.set(.milliseconds(1_000))
        budget.deposit()  // slice 1
        clock.set(.milliseconds(9_999))
        #expect(budget.balance == 6)
        clock.set(.seconds(10))
        #expect(budget.balance == 1)  // slice 0 expired: the deposit at 0.5 s counted for 9.5 s
        clock.set(.seconds(11))
        #expect(budget.balance == 0)

        // A withdrawal counts for its own ttl, even after the deposit that paid for it expired.
        clock.set(.seconds(20))
        budget.deposit()
        clock.set(.seconds(25))
        #expect(budget.tryWithdraw())
        clock.set(.seconds(30))
        budget.deposit()  // the deposit of 20 s is gone, the withdrawal of 25 s is not: 1 - 1
        #expect(budget.balance == 0)
        #expect(!budget.tryWithdraw())
        clock.set(.seconds(35))
        #expect(budget.balance == 1)

        // Any idle time longer than the window leaves nothing: deposits and withdrawals alike are gone.
        let reserve = try Self.budget(clock, ttl: .seconds(10), minRetriesPerSecond: 1, percentCanRetry: 1)
        for _ in 0..<5 { reserve.deposit() }
        #expect(Self.withdraw(20, from: reserve) == 15)
        clock.set(.seconds(1_000_000))
        #expect(reserve.balance == 10)
    }

    @Test("A time earlier than one already seen counts in the current slice: a late reader is not in the past")
    func lateReader() throws {
        let clock = BudgetTestClock()
        let budget = try Self.budget(clock, ttl: .seconds(10), minRetriesPerSecond: 0, percentCanRetry: 1)
        clock.set(.seconds(15))
        #expect(budget.balance == 0)
        clock.set(.seconds(3))
        budget.deposit()  // counted at 15 s
        clock.set(.milliseconds(24_999))
        #expect(budget.balance == 1)
        clock.set(.seconds(25))
        #expect(budget.balance == 0)
    }

    @Test("Many tasks withdrawing from one budget get exactly its balance between them")
    func sharedBudget() async throws {
        let clock = BudgetTestClock()
        let budget = try Self.budget(clock, ttl: .seconds(10), minRetriesPerSecond: 10, percentCanRetry: 0)
        let granted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { Self.withdraw(50, from: budget) }
            }
            return await group.reduce(0, +)
        }
        #expect(granted == 100)
        #expect(budget.balance == 0)
    }

    @Test("Parameters out of range are refused with a reason", arguments: [
        (Duration.milliseconds(999), 10, 0.2, "ttl must be between 1 and 60 seconds (is 0.999 seconds)"),
        (Duration.seconds(61), 10, 0.2, "ttl must be between 1 and 60 seconds (is 61.0 seconds)"),
        (Duration.seconds(10), -1, 0.2, "minRetriesPerSecond must be between 0 and 1000000 (is -1)"),
        (Duration.seconds(10), 1_000_001, 0.2, "minRetriesPerSecond must be between 0 and 1000000 (is 1000001)"),
        (Duration.seconds(10), 10, -0.1, "percentCanRetry must be between 0 and 1000 (is -0.1)"),
        (Duration.seconds(10), 10, 1000.5, "percentCanRetry must be between 0 and 1000 (is 1000.5)"),
        (Duration.seconds(10), 10, Double.nan, "percentCanRetry must be between 0 and 1000 (is nan)"),
        (Duration.seconds(10), 10, 0.0004, "percentCanRetry must be 0 or at least 0.001, the budget's precision (is 0.0004)"),
    ])
    func invalid(ttl: Duration, minRetriesPerSecond: Int, percentCanRetry: Double, reason: String) {
        #expect(throws: RetryBudgetError(reason: reason)) {
            try RetryBudget(ttl: ttl, minRetriesPerSecond: minRetriesPerSecond, percentCanRetry: percentCanRetry)
        }
        #expect(RetryBudgetError(reason: reason).description == "Invalid retry budget: \(reason)")
    }

    @Test("The bounds themselves are accepted")
    func bounds() throws {
        _ = try RetryBudget(ttl: .seconds(1), minRetriesPerSecond: 0, percentCanRetry: 0)
        _ = try RetryBudget(ttl: .seconds(60), minRetriesPerSecond: 1_000_000, percentCanRetry: 1000)
        _ = try RetryBudget(ttl: .seconds(10), minRetriesPerSecond: 10, percentCanRetry: 0.001)
    }
}
