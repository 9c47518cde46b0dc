import ArgumentParser
import DeadlineRPC
import RPCBenchCore
import RPCBenchOptions

/// `rpcbench`: tail latency of DeadlineRPC under cancellation storms.
///
/// `rpcbench` (that is, `rpcbench run`) starts an embedded chain of servers, drives victims and a storm against
/// it, prints a table and writes `results/<timestamp>/report.json` and `plot.svg`. `rpcbench serve` runs the
/// bench service for a `rpcbench run --target host:port` from another process.
@main
struct RPCBench: AsyncParsableCommand {
    /// The command's name, abstract and subcommands (`run` is the default).
    static let configuration = CommandConfiguration(
        commandName: "rpcbench",
        abstract: "Tail latency of DeadlineRPC under cancellation storms.",
        discussion: """
            With no arguments: an embedded 3-server chain, victims at 2,000 calls/s, a calm phase, a storm phase at \
            the same rate and the storm again with propagation off on the hop clients (about 20 s in all). \
            `--target demo` runs the same workload as checkouts through the demo topology's gateway; \
            `--replicas 3 --kill-every 3s` runs victims on 3 `serve` child processes while one at a time is killed \
            and restarted. See Sources/rpcbench/README.md for every flag and output field.
            """,
        subcommands: [Run.self, Serve.self],
        defaultSubcommand: Run.self
    )
}

/// Where handlers run, as a flag value. Only `global` is left: the runtime no longer runs handlers on its I/O
/// loops (`RPCServer.HandlerExecutor`), and the flag stays so existing command lines keep working.
enum HandlerExecutorArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// `RPCServer.HandlerExecutor.globalConcurrent`.
    case global

    /// The runtime's value.
    var executor: RPCServer.HandlerExecutor {
        switch self {
        case .global: return .globalConcurrent
        }
    }
}
