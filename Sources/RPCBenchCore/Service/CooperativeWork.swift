/// The bench handlers' service time: cooperative work that stops as soon as the task is cancelled.
public enum CooperativeWork {
    /// How a piece of work ended.
    public struct Outcome: Sendable, Hashable {
        /// Whether all of it was done.
        public var completed: Bool
        /// When the work noticed its task was cancelled (``BenchClock`` nanoseconds), or 0.
        public var observedCancellationAt: Int64

        /// Creates an outcome (other stacks' bench services report forwarded calls with it).
        public init(completed: Bool, observedCancellationAt: Int64) {
            self.completed = completed
            self.observedCancellationAt = observedCancellationAt
        }
    }

    /// Spends `nanoseconds` the way `kind` says, checking for cancellation every `unit` (spin) or waking on it at
    /// once (park).
    public static func perform(_ kind: WorkKind, nanoseconds: Int64, unit: Int64) async -> Outcome {
        guard nanoseconds > 0 else { return Outcome(completed: true, observedCancellationAt: 0) }
        let start = BenchClock.now()
        let end = start + nanoseconds
        switch kind {
        case .spin:
            let slice = max(1_000, unit)
            while true {
                if Task.isCancelled { return Outcome(completed: false, observedCancellationAt: BenchClock.now()) }
                let now = BenchClock.now()
                if now >= end { return Outcome(completed: true, observedCancellationAt: 0) }
                BenchClock.spin(until: min(now + slice, end))
                // Let the executor run other jobs (I/O on an event loop) between slices.
                await Task.yield()
            }
        case .park:
            do {
                try await Task.sleep(for: .nanoseconds(nanoseconds))
                return Outcome(completed: true, observedCancellationAt: 0)
            } catch {
                return Outcome(completed: false, observedCancellationAt: BenchClock.now())
            }
        }
    }
}
