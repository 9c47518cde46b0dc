import ArgumentParser
import RPCBenchCore

/// A duration flag: `250us`, `2ms`, `1.5s`, `0`.
public struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    /// The duration.
    public let duration: Duration

    /// Wraps a duration (for defaults).
    public init(_ duration: Duration) {
        self.duration = duration
    }

    /// Parses a flag value.
    public init?(argument: String) {
        guard let duration = DurationParsing.parse(argument) else { return nil }
        self.duration = duration
    }

    /// `2ms`, `100us`, `1.5s`.
    public var description: String { DurationParsing.format(self.duration) }

    /// The default as shown in `--help`.
    public var defaultValueDescription: String { self.description }
}
