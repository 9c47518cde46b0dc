import DeadlineRPC

/// The one clock every bench timestamp is read from: nanoseconds on the monotonic clock DeadlineRPC's
/// ``Deadline`` uses (`CLOCK_MONOTONIC`).
///
/// Clients and handlers in one process share it, so a client's cancel instant and the instant a handler saw its
/// task cancelled can be subtracted directly. Processes on one host share it too, which is what makes the figures
/// of a `--target` run on the same host comparable.
public enum BenchClock {
    /// Now, in nanoseconds.
    @inline(__always)
    public static func now() -> Int64 {
        Deadline.now().uptimeNanoseconds
    }

    /// Busy-waits until the clock reaches `instant` (CPU work that does not yield).
    @inline(__always)
    public static func spin(until instant: Int64) {
        while Self.now() < instant {}
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    public var benchNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = fromSeconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }

    /// The duration in seconds, as a `Double`.
    public var benchSeconds: Double {
        Double(self.benchNanoseconds) / 1e9
    }

    /// The duration in microseconds, as a `Double`.
    public var benchMicroseconds: Double {
        Double(self.benchNanoseconds) / 1e3
    }
}
