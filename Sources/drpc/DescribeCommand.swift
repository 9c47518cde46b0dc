import ArgumentParser
import DeadlineRPC

/// `drpc describe HOST:PORT METHOD`: one method's kind, encodings, JSON form, default timeout and idempotency.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Describe one method: its kind, encodings, whether it takes JSON, default timeout, idempotency."
    )

    @OptionGroup var options: ConnectionOptions

    @Argument(help: "The full method name, e.g. greeter.Greeter/Greet.")
    var method: String

    func run() async throws {
        let start = ContinuousClock.now
        let descriptor: MethodDescriptor
        do {
            descriptor = try await self.options.withClient { client in
                try await ReflectionClient(client).describeMethod(self.method, options: try self.options.callOptions())
            }
        } catch {
            try Output.fail(error, self.options, budget: CallReport.attribution(budget: self.options.timeout?.duration, start: start))
        }
        let report = CallReport.ok(budget: CallReport.attribution(budget: self.options.timeout?.duration, start: start))
        if self.options.json {
            return try Output.finish(report, self.options, payload: try Output.object(descriptor) as? [String: Any] ?? [:])
        }
        Output.line("name: \(descriptor.name)")
        Output.line("kind: \(descriptor.kind)")
        Output.line("request encoding: \(descriptor.requestEncoding)")
        Output.line("response encoding: \(descriptor.responseEncoding)")
        Output.line("accepts JSON: \(descriptor.acceptsJSON ? "yes" : "no")")
        Output.line("default timeout: \(descriptor.defaultTimeout.map(Output.format) ?? "none")")
        Output.line("idempotent: \(descriptor.isIdempotent ? "yes" : "no")")
        try Output.finish(report, self.options)
    }
}
