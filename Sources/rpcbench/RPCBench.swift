import ArgumentParser
import DeadlineRPC
import RPCBenchCore

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
            the same rate and the storm again with propagation off on the hop clients (about 20 s in all). See \
            Sources/rpcbench/README.md for every flag and output field.
            """,
        subcommands: [Run.self, Serve.self],
        defaultSubcommand: Run.self
    )
}

/// A duration flag: `250us`, `2ms`, `1.5s`, `0`.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    /// The duration.
    let duration: Duration

    /// Wraps a duration (for defaults).
    init(_ duration: Duration) {
        self.duration = duration
    }

    /// Parses a flag value.
    init?(argument: String) {
        guard let duration = DurationParsing.parse(argument) else { return nil }
        self.duration = duration
    }

    /// `2ms`, `100us`, `1.5s`.
    var description: String { DurationParsing.format(self.duration) }

    /// The default as shown in `--help`.
    var defaultValueDescription: String { self.description }
}

extension WorkKind: ExpressibleByArgument {
    /// Parses `spin` or `park` (the raw values are wire bytes, not names).
    public init?(argument: String) {
        guard let kind = WorkKind.allCases.first(where: { $0.description == argument }) else { return nil }
        self = kind
    }

    /// `spin`, `park`.
    public static var allValueStrings: [String] { WorkKind.allCases.map(\.description) }

    /// The name.
    public var defaultValueDescription: String { self.description }
}

extension BenchConfiguration.ServiceTimeDistribution: ExpressibleByArgument {}

/// Where handlers run, as a flag value.
enum HandlerExecutorArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// `RPCServer.HandlerExecutor.eventLoop`.
    case eventLoop = "event-loop"
    /// `RPCServer.HandlerExecutor.globalConcurrent`.
    case global

    /// The runtime's value.
    var executor: RPCServer.HandlerExecutor {
        switch self {
        case .eventLoop: return .eventLoop
        case .global: return .globalConcurrent
        }
    }
}
