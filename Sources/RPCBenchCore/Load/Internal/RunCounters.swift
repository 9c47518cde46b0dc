import Synchronization

/// Counters shared by a run's caller tasks.
final class RunCounters: Sendable {
    /// When the first caller started (0 until then).
    let started = Atomic<Int64>(0)
    /// Calls sent.
    let sent = Atomic<Int>(0)
    /// The latest completion instant.
    let lastCompletion = Atomic<Int64>(0)

    /// The start instant: now for the first caller to ask, the same for every later one.
    func begin() -> Int64 {
        let now = BenchClock.now()
        let (exchanged, original) = self.started.compareExchange(expected: 0, desired: now, ordering: .relaxed)
        return exchanged ? now : original
    }
}
