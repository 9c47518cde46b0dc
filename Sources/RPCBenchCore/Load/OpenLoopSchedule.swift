/// When each call of an open loop is due: call `k` at `start + k / rate`, whatever happened to the calls before
/// it. Latency is measured from this intended time, so a call held up by a stalled pacer, a full in-flight cap or
/// a slow server is charged for the wait (no coordinated omission, as in wrk2).
public struct OpenLoopSchedule: Sendable, Hashable {
    /// The intended time of call 0 (``BenchClock`` nanoseconds).
    public let start: Int64
    /// Calls per second.
    public let rate: Double
    /// Calls in the schedule.
    public let count: Int

    /// A schedule of `rate` calls per second for `duration`, starting at `start`.
    public init(start: Int64, rate: Double, duration: Duration) {
        precondition(rate > 0, "an open loop needs a positive rate")
        self.start = start
        self.rate = rate
        self.count = max(0, Int((duration.benchSeconds * rate).rounded(.up)))
    }

    /// Nanoseconds between two intended times.
    public var intervalNanoseconds: Double { 1e9 / self.rate }

    /// The intended send time of call `k`.
    public func intendedTime(of k: Int) -> Int64 {
        self.start + Int64((Double(k) * self.intervalNanoseconds).rounded())
    }

    /// How many calls are due at `now` (calls `0..<n` have intended times at or before `now`).
    public func dueCount(at now: Int64) -> Int {
        guard now >= self.start else { return 0 }
        var due = Int(Double(now - self.start) / self.intervalNanoseconds) + 1
        // Correct the floating-point estimate against the rounded intended times.
        while due > 0 && self.intendedTime(of: due - 1) > now { due -= 1 }
        while due < self.count && self.intendedTime(of: due) <= now { due += 1 }
        return min(due, self.count)
    }

    /// The latency of call `k` completed at `completedAt`: from its intended time, not from when it was sent.
    public func latency(of k: Int, completedAt: Int64) -> Int64 {
        completedAt - self.intendedTime(of: k)
    }
}
