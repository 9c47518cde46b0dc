import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One endpoint's typical latency: an exponentially weighted moving average whose weights decay with time, not
/// with the sample count, so a burst of samples does not erase a minute of history and a quiet endpoint's estimate
/// ages. Pure: time is passed in.
struct LatencyEstimate {
    /// The average, in nanoseconds.
    private(set) var nanoseconds: Double = 0
    /// Samples since the estimate was last forgotten.
    private(set) var samples = 0
    /// When the last sample came.
    private var last: NIODeadline = .uptimeNanoseconds(0)

    /// Adds one latency observed at `now`; `decay` is the time after which a sample weighs 1/e.
    mutating func record(_ latency: Duration, now: NIODeadline, decay: Duration) {
        let value = Double(latency.nanoseconds)
        if self.samples == 0 {
            self.nanoseconds = value
        } else {
            let elapsed = Double(max(0, Int64(now.uptimeNanoseconds) - Int64(self.last.uptimeNanoseconds)))
            // While samples are few they average plainly (weight 1/n: a burst of answers arriving together counts as
            // much as one spread out); later a floor keeps simultaneous samples moving it.
            let byCount = 1 / Double(self.samples + 1)
            let weight = max(0.05, byCount, 1 - exp(-elapsed / Double(max(1, decay.nanoseconds))))
            self.nanoseconds += (value - self.nanoseconds) * weight
        }
        self.samples += 1
        self.last = now
    }

    /// The estimate at `now`, when it is trusted under `policy`: enough samples, and recent.
    func typical(now: NIODeadline, policy: BudgetAwarePicking) -> Duration? {
        guard self.samples >= policy.minimumSamples else { return nil }
        guard Int64(now.uptimeNanoseconds) - Int64(self.last.uptimeNanoseconds) <= policy.staleAfter.nanoseconds else { return nil }
        return .nanoseconds(Int64(self.nanoseconds))
    }
}
