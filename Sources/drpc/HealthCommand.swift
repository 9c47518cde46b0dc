import ArgumentParser
import DeadlineRPC

/// `drpc health HOST:PORT [SERVICE]`: the health service's status for a service name (the server as a whole by
/// default); exits 0 only when it is SERVING.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check the server's health service: prints the status; exits 0 only for SERVING (6 otherwise)."
    )

    @OptionGroup var options: ConnectionOptions

    @Argument(help: "The service name (default: the server as a whole).")
    var service: String = ""

    func run() async throws {
        let start = ContinuousClock.now
        let payload: [String: Any] = ["service": self.service]
        let status: ServingStatus
        do {
            status = try await self.options.withClient { client in
                try await HealthClient(client).check(service: self.service, options: try self.options.callOptions())
            }
        } catch {
            try Output.fail(error, self.options, payload: payload, budget: CallReport.attribution(budget: self.options.timeout?.duration, start: start))
        }
        let report = CallReport.ok(budget: CallReport.attribution(budget: self.options.timeout?.duration, start: start))
        if !self.options.json { Output.line(status.description) }
        try Output.finish(
            report,
            self.options,
            payload: payload.merging(["servingStatus": status.description]) { $1 },
            exitCode: status == .serving ? DRPCExit.ok : DRPCExit.notServing
        )
    }
}
