import DeadlineRPC
import Synchronization

/// Counts the health `Watch` calls a server is running: each lasts as long as its client's connection, so
/// `/stats` leaves them out of `handlersInFlight`, which the scenario runner reads as "work still running".
package final class HealthWatches: ServerInterceptor {
    private let running = Atomic<Int>(0)

    /// Creates a counter at zero.
    package init() {}

    /// Watch calls running now.
    package var count: Int { self.running.load(ordering: .relaxed) }

    /// Counts the call while it runs when it is a health watch; passes every call on unchanged.
    package func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        guard context.method == HealthService.watchMethodName else { return try await next(context) }
        self.running.add(1, ordering: .relaxed)
        defer { self.running.subtract(1, ordering: .relaxed) }
        try await next(context)
    }
}
