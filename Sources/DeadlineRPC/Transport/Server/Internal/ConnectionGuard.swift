import Wire

/// The abuse budgets of one server connection, as a pure value: the glitch budget, the optional reset budget, the
/// ping policy, the bound on control frames queued for a peer that does not read, and the idle timeout. Each
/// event returns ``Verdict/ok`` or the `GOAWAY` that ends the connection; the time is passed in (uptime
/// nanoseconds on the loop's clock), so tests drive it without I/O (`docs/LIMITS.md`).
struct ConnectionGuard {
    /// What the connection does after an event.
    enum Verdict: Hashable, Sendable {
        /// Carry on.
        case ok
        /// The peer went past a budget: send `GOAWAY` with this error and close.
        case goAway(WireError)
    }

    /// What the idle timer finds when it fires.
    enum IdleCheck: Hashable, Sendable {
        /// The connection became busy since the timer was armed: nothing to do until it is idle again.
        case busy
        /// Idle for the whole timeout: end the connection with this error.
        case expired(WireError)
        /// Idle, but not for long enough yet: check again after this many nanoseconds.
        case checkAgain(in: Int64)
    }

    private let limits: RPCServer.ConnectionLimits
    /// Junk the peer may still send: unknown frames, undefined flags, empty frames, stream errors it caused.
    private var glitches: GlitchBudget
    /// Cancels of open calls the peer may still send, when a reset budget is configured (off by default).
    private var resets: GlitchBudget?
    private var pingPolicy: PingPolicy
    /// Frames the decoder ignored that were already charged to the glitch budget.
    private var ignoredFramesCharged = 0
    /// Control frames queued while the channel was not writable, i.e. piling up for a peer that does not read.
    private var controlFramesWhileBlocked = 0
    /// When the connection last became idle (no call open, no handler running), in uptime nanoseconds.
    private(set) var idleSince: Int64?

    /// Full budgets at `now`.
    init(limits: RPCServer.ConnectionLimits, now: Int64) {
        self.limits = limits
        self.glitches = GlitchBudget(capacity: limits.glitchBudget, refillPerSecond: limits.glitchRefillPerSecond, now: now)
        self.resets = limits.resetBudget.map { GlitchBudget(capacity: $0.burst, refillPerSecond: $0.refillPerSecond, now: now) }
        self.pingPolicy = PingPolicy(
            minimumInterval: limits.pingMinimumInterval.nanoseconds,
            toleratedStrikes: limits.pingStrikesTolerated
        )
    }

    /// Charges one glitch, named by `what` in the error that ends the connection once the budget is spent.
    mutating func glitch(_ what: String, now: Int64) -> Verdict {
        if self.glitches.spend(now: now) { return .ok }
        return .goAway(
            WireError(
                .enhanceYourCalm,
                "The peer spent its glitch budget (\(self.limits.glitchBudget) at once, \(self.limits.glitchRefillPerSecond) per second), last on \(what)."
            )
        )
    }

    /// Charges one glitch for each frame the decoder ignored (unknown type, undefined flags) since the last call;
    /// `ignoredTotal` is the decoder's running count. Called for every frame, so `now` (a clock read) is taken only
    /// when there is something to charge.
    mutating func chargeIgnoredFrames(ignoredTotal: Int, now: @autoclosure () -> Int64) -> Verdict {
        guard self.ignoredFramesCharged < ignoredTotal else { return .ok }
        let now = now()
        while self.ignoredFramesCharged < ignoredTotal {
            self.ignoredFramesCharged += 1
            let verdict = self.glitch("frames of unknown type or with undefined flags", now: now)
            if verdict != .ok { return verdict }
        }
        return .ok
    }

    /// The peer cancelled an open call: spends one token of the reset budget, if one is configured.
    mutating func cancelReceived(now: Int64) -> Verdict {
        guard var resets = self.resets, let budget = self.limits.resetBudget else { return .ok }
        let allowed = resets.spend(now: now)
        self.resets = resets
        if allowed { return .ok }
        return .goAway(
            WireError(
                .enhanceYourCalm,
                "The peer cancelled more calls than the reset budget allows (\(budget.burst) at once, \(budget.refillPerSecond) per second)."
            )
        )
    }

    /// The peer sent a `PING` (not an ack) at `now` (§13.5).
    mutating func pingReceived(now: Int64) -> Verdict {
        self.pingPolicy.receivedPing(now: now) ? .ok : .goAway(WireError(.tooManyPings, "too many pings"))
    }

    /// A control frame was queued while the channel was (`writable`) or was not writable: at most
    /// `maxQueuedControlFrames` may pile up for a peer that does not read.
    mutating func controlFrameQueued(writable: Bool) -> Verdict {
        guard !writable else { return .ok }
        self.controlFramesWhileBlocked += 1
        let cap = self.limits.maxQueuedControlFrames
        guard self.controlFramesWhileBlocked > cap else { return .ok }
        return .goAway(
            WireError(.enhanceYourCalm, "More than \(cap) control frames are queued for a peer that does not read what it is sent.")
        )
    }

    /// The peer reads again (the channel became writable, or bytes queued behind a full buffer were written): the
    /// control frames counted against it are no longer piling up.
    mutating func peerIsReading() {
        self.controlFramesWhileBlocked = 0
    }

    /// The connection has no call open and no handler running at `now`. Returns the delay after which the idle
    /// timer should check, or nil when no check is needed (no idle timeout, or idle already).
    mutating func becameIdle(now: Int64) -> Int64? {
        guard let timeout = self.limits.idleTimeout, self.idleSince == nil else { return nil }
        self.idleSince = now
        return timeout.nanoseconds
    }

    /// A call opened: the connection is busy.
    mutating func becameBusy() {
        self.idleSince = nil
    }

    /// The idle timer fired at `now`.
    func idleCheck(now: Int64) -> IdleCheck {
        guard let timeout = self.limits.idleTimeout, let since = self.idleSince else { return .busy }
        let idleFor = now - since
        if idleFor >= timeout.nanoseconds {
            return .expired(WireError(.timeout, "The connection had no call open for \(timeout), the idle timeout."))
        }
        return .checkAgain(in: timeout.nanoseconds - idleFor)
    }
}
