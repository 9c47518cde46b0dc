import ArgumentParser

/// `drpc`: call a DeadlineRPC server from a shell. It learns each method's kind and encodings from the server's
/// reflection service (`drpc.reflection.v1.Reflection`), sends JSON, and prints JSON.
@main
struct DRPC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drpc",
        abstract: "Call a DeadlineRPC server: list and describe its methods, call them with JSON, check its health.",
        discussion: DRPCExit.table,
        subcommands: [ListCommand.self, DescribeCommand.self, CallCommand.self, HealthCommand.self]
    )
}
