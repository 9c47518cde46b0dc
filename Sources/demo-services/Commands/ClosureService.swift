import ServiceLifecycle

/// A lifecycle `Service` whose `run()` is a closure: lets a command run its main work in a `ServiceGroup`, so
/// SIGTERM and SIGINT reach it as graceful shutdown.
struct ClosureService: Service {
    /// The work.
    let body: @Sendable () async throws -> Void

    /// Runs the work.
    func run() async throws {
        try await self.body()
    }
}
