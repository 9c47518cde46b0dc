import Synchronization

/// Timestamp of a handler task's cancellation, written by its cancellation handler (any thread). Public so other
/// stacks' bench services (Benchmarks/PeerStorm) record the same instant the same way.
public final class CancellationMark: Sendable {
    private let instant = Atomic<Int64>(0)

    /// Creates an unset mark.
    public init() {}

    /// Records now, once.
    public func mark() {
        _ = self.instant.compareExchange(expected: 0, desired: BenchClock.now(), ordering: .relaxed)
    }

    /// The recorded instant, or 0.
    public var value: Int64 { self.instant.load(ordering: .relaxed) }
}
