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

    /// Runs the work in a service group that turns SIGTERM and SIGINT into graceful shutdown; the work ending is
    /// the normal way out (it shuts the group down rather than failing it).
    func runUntilSignalled(label: String) async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: self, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Console.logger(label)
            )
        )
        try await group.run()
    }
}
