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
