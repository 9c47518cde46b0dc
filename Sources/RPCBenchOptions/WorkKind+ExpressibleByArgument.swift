import ArgumentParser
import RPCBenchCore

/// `spin` or `park` as a flag value.
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

/// `fixed` or `exponential` as a flag value.
extension BenchConfiguration.ServiceTimeDistribution: ExpressibleByArgument {}
