import Testing
import Wire

@testable import DeadlineRPC

/// The connection's abuse budgets as a pure value: one event per test, the verdict compared.
@Suite("ConnectionGuard")
struct ConnectionGuardTests {
    static let second: Int64 = 1_000_000_000

    static func limits(_ change: (inout RPCServer.ConnectionLimits) -> Void = { _ in }) -> RPCServer.ConnectionLimits {
        var limits = RPCServer.ConnectionLimits()
        change(&limits)
        return limits
    }

    static func isCalm(_ verdict: ConnectionGuard.Verdict, code: WireError.Code) -> Bool {
        guard case .goAway(let error) = verdict else { return false }
        return error.code == code
    }

    @Test("Glitches within the budget are tolerated; the next one ends the connection naming what it was")
    func glitchBudget() {
        var guard_ = ConnectionGuard(limits: Self.limits { $0.glitchBudget = 2; $0.glitchRefillPerSecond = 0 }, now: 0)
        #expect(guard_.glitch("a", now: 0) == .ok)
        #expect(guard_.glitch("b", now: 0) == .ok)
        let verdict = guard_.glitch("empty frames", now: 0)
        #expect(Self.isCalm(verdict, code: .enhanceYourCalm))
        guard case .goAway(let error) = verdict else { return }
        #expect(error.message.contains("empty frames"))
    }

    @Test("Ignored frames are charged once each, by the decoder's running count")
    func ignoredFrames() {
        var guard_ = ConnectionGuard(limits: Self.limits { $0.glitchBudget = 3; $0.glitchRefillPerSecond = 0 }, now: 0)
        #expect(guard_.chargeIgnoredFrames(ignoredTotal: 2, now: 0) == .ok)
        #expect(guard_.chargeIgnoredFrames(ignoredTotal: 2, now: 0) == .ok)  // Already charged.
        #expect(guard_.chargeIgnoredFrames(ignoredTotal: 3, now: 0) == .ok)
        let verdict = guard_.chargeIgnoredFrames(ignoredTotal: 4, now: 0)
        #expect(Self.isCalm(verdict, code: .enhanceYourCalm))
    }

    @Test("No reset budget by default: any number of cancels is fine")
    func noResetBudget() {
        var guard_ = ConnectionGuard(limits: Self.limits(), now: 0)
        for _ in 0..<10_000 { #expect(guard_.cancelReceived(now: 0) == .ok) }
    }

    @Test("A reset budget allows its burst, refuses the next cancel, and refills")
    func resetBudget() {
        var guard_ = ConnectionGuard(
            limits: Self.limits { $0.resetBudget = RPCServer.ResetBudget(burst: 2, refillPerSecond: 1) },
            now: 0
        )
        #expect(guard_.cancelReceived(now: 0) == .ok)
        #expect(guard_.cancelReceived(now: 0) == .ok)
        #expect(Self.isCalm(guard_.cancelReceived(now: 0), code: .enhanceYourCalm))
        #expect(guard_.cancelReceived(now: 2 * Self.second) == .ok)
    }

    @Test("Pings follow the ping policy: the strike after the tolerated ones is TOO_MANY_PINGS")
    func pings() {
        var guard_ = ConnectionGuard(
            limits: Self.limits { $0.pingMinimumInterval = .seconds(5); $0.pingStrikesTolerated = 1 },
            now: 0
        )
        #expect(guard_.pingReceived(now: 0) == .ok)
        #expect(guard_.pingReceived(now: 1) == .ok)
        #expect(Self.isCalm(guard_.pingReceived(now: 2), code: .tooManyPings))
    }

    @Test("Control frames pile up only while the peer does not read; reading again clears the count")
    func controlFrames() {
        var guard_ = ConnectionGuard(limits: Self.limits { $0.maxQueuedControlFrames = 2 }, now: 0)
        for _ in 0..<10 { #expect(guard_.controlFrameQueued(writable: true) == .ok) }
        #expect(guard_.controlFrameQueued(writable: false) == .ok)
        #expect(guard_.controlFrameQueued(writable: false) == .ok)
        guard_.peerIsReading()
        #expect(guard_.controlFrameQueued(writable: false) == .ok)
        #expect(guard_.controlFrameQueued(writable: false) == .ok)
        #expect(Self.isCalm(guard_.controlFrameQueued(writable: false), code: .enhanceYourCalm))
    }

    @Test("Idle: the first idle instant arms a check; the check expires, waits longer, or finds the connection busy")
    func idle() {
        var guard_ = ConnectionGuard(limits: Self.limits { $0.idleTimeout = .seconds(10) }, now: 0)
        #expect(guard_.idleCheck(now: 0) == .busy)
        #expect(guard_.becameIdle(now: Self.second) == 10 * Self.second)
        #expect(guard_.becameIdle(now: 2 * Self.second) == nil)  // Idle already: since the first instant.
        #expect(guard_.idleCheck(now: 5 * Self.second) == .checkAgain(in: 6 * Self.second))
        guard case .expired(let error) = guard_.idleCheck(now: 11 * Self.second) else {
            Issue.record("expected the idle timeout to expire")
            return
        }
        #expect(error.code == .timeout)
        guard_.becameBusy()
        #expect(guard_.idleSince == nil)
        #expect(guard_.idleCheck(now: 30 * Self.second) == .busy)
    }

    @Test("No idle timeout: becoming idle arms nothing")
    func noIdleTimeout() {
        var guard_ = ConnectionGuard(limits: Self.limits { $0.idleTimeout = nil }, now: 0)
        #expect(guard_.becameIdle(now: 0) == nil)
        #expect(guard_.idleCheck(now: .max / 2) == .busy)
    }
}
