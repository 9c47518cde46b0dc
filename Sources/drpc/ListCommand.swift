import ArgumentParser
import DeadlineRPC

/// `drpc list HOST:PORT`: every method the server serves and its health statuses, from reflection.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the server's methods (name, kind, encodings, default timeout, idempotency) and health statuses."
    )

    @OptionGroup var options: ConnectionOptions

    func run() async throws {
        let start = ContinuousClock.now
        let listing: ReflectionListing
        do {
            listing = try await self.options.withClient { client in
                try await ReflectionClient(client).listMethods(options: try self.options.callOptions())
            }
        } catch {
            try Output.fail(error, self.options, budget: CallReport.attribution(budget: self.options.timeout?.duration, start: start))
        }
        let report = CallReport.ok(budget: CallReport.attribution(budget: self.options.timeout?.duration, start: start))
        if self.options.json {
            return try Output.finish(report, self.options, payload: try Output.object(listing) as? [String: Any] ?? [:])
        }
        let width = listing.methods.map(\.name.count).max() ?? 0
        let kindWidth = "server-streaming".count
        for method in listing.methods {
            Output.line(Self.line(method, nameWidth: width, kindWidth: kindWidth))
        }
        for entry in listing.health {
            Output.line("health \(entry.service.isEmpty ? "\"\"" : entry.service): \(entry.status)")
        }
        try Output.finish(report, self.options)
    }

    /// `demo.Echo/Echo  unary  json -> json  idempotent  timeout 2s`.
    static func line(_ method: MethodDescriptor, nameWidth: Int, kindWidth: Int) -> String {
        var parts = [
            method.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0),
            method.kind.description.padding(toLength: kindWidth, withPad: " ", startingAt: 0),
            "\(method.requestEncoding) -> \(method.responseEncoding)",
        ]
        if method.acceptsJSON && (method.requestEncoding != "json" || method.responseEncoding != "json") { parts.append("(accepts JSON)") }
        if method.isIdempotent { parts.append("idempotent") }
        if let timeout = method.defaultTimeout { parts.append("timeout \(Output.format(timeout))") }
        return parts.joined(separator: "  ")
    }
}
