import ArgumentParser

/// `peer-storm`: rpcbench's victims-beside-a-cancellation-storm workload against grpc-swift-2, and the
/// side-by-side table of DeadlineRPC, grpc-swift-2 and the raw NIO floor (see this package's README).
@main
struct PeerStorm: AsyncParsableCommand {
    /// The command's name, abstract and subcommands (`run` is the default).
    static let configuration = CommandConfiguration(
        commandName: "peer-storm",
        abstract: "rpcbench's cancellation-storm workload against grpc-swift-2, and the side-by-side table.",
        subcommands: [Run.self, Compare.self, Sweep.self],
        defaultSubcommand: Run.self
    )
}
