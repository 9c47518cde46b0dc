import Synchronization

/// One grpc-swift-2 server's call counters, kept by its bench service (grpc-swift-2 exposes none): what
/// ``HopSnapshot`` reports for a DeadlineRPC server's `ServerStats`.
final class HopCounters: Sendable {
    /// Handlers started.
    let started = Atomic<Int>(0)
    /// Handlers returned.
    let finished = Atomic<Int>(0)

    /// Creates zeroed counters.
    init() {}

    /// Counts a handler around `body`.
    func count<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        self.started.add(1, ordering: .relaxed)
        defer { self.finished.add(1, ordering: .relaxed) }
        return try await body()
    }

    /// Handlers running now.
    var inFlight: Int {
        let finished = self.finished.load(ordering: .relaxed)
        return max(0, self.started.load(ordering: .relaxed) - finished)
    }
}
