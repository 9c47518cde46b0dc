import NIOCore
import Wire

// The abuse budgets: ``ConnectionGuard``'s verdicts carried out on the channel, and the idle timer.
extension ServerConnectionHandler {
    /// Now, in uptime nanoseconds on the loop's clock: the time base of the budgets.
    func uptimeNow() -> Int64 { Int64(self.eventLoop.now.uptimeNanoseconds) }

    /// Charges one glitch for each frame the decoder skipped (unknown type) or found with undefined flags; false
    /// once the budget is spent and the connection is ending.
    func chargeIgnoredFrames() -> Bool {
        self.enforce(self.connectionGuard.chargeIgnoredFrames(ignoredTotal: self.reader.ignoredFrameCount, now: self.uptimeNow()))
    }

    /// Charges one glitch; when the budget is spent, ends the connection with `ENHANCE_YOUR_CALM` and returns false.
    @discardableResult
    func glitch(_ what: String) -> Bool {
        guard self.state != .closed else { return false }
        return self.enforce(self.connectionGuard.glitch(what, now: self.uptimeNow()))
    }

    /// Carries out the guard's verdict: true to carry on, false once the connection is ending.
    func enforce(_ verdict: ConnectionGuard.Verdict) -> Bool {
        guard case .goAway(let error) = verdict else { return true }
        self.connectionError(error)
        return false
    }

    /// Queues a control frame. While the peer does not read (the channel is not writable) at most
    /// `maxQueuedControlFrames` may pile up; one more ends the connection with `ENHANCE_YOUR_CALM`.
    func writeControl(_ frame: Frame) {
        self.writer.scheduler.writeControl(frame)
        guard let context = self.context else { return }
        _ = self.enforce(self.connectionGuard.controlFrameQueued(writable: context.channel.isWritable))
    }

    /// The connection has no call open and no handler running: remember since when, and make sure a timer will
    /// check the idle timeout.
    func noteIdle() {
        guard case .active = self.state, self.streams.isEmpty, self.slots.running == 0,
            let delay = self.connectionGuard.becameIdle(now: self.uptimeNow())
        else { return }
        if self.idleTimer == nil { self.scheduleIdleCheck(in: delay) }
    }

    /// Checks the idle timeout after `delay` nanoseconds; a connection that was busy in between is checked again
    /// when it next becomes idle.
    func scheduleIdleCheck(in delay: Int64) {
        guard let context = self.context else { return }
        self.idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay)) { [self] in
            self.idleTimer = nil
            guard case .active = self.state else { return }
            switch self.connectionGuard.idleCheck(now: self.uptimeNow()) {
            case .busy: break
            case .expired(let error): self.connectionError(error)
            case .checkAgain(let delay): self.scheduleIdleCheck(in: delay)
            }
        }
    }
}
