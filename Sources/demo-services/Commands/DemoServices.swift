import ArgumentParser

/// The demo's command-line entry point: with no subcommand, runs the scripted scenarios against an all-in-one
/// topology (propagation on and off side by side) and prints the table.
@main
struct DemoServices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-services",
        abstract: "A checkout path of services that shows DeadlineRPC's deadline propagation end to end, with numbers.",
        subcommands: [DemoCommand.self, ServeCommand.self, LaunchCommand.self, ScenariosCommand.self, EchoServer.self, ChainHop.self],
        defaultSubcommand: DemoCommand.self
    )
}
