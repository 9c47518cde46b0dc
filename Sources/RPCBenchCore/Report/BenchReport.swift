#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything one bench run measured: the structure of `report.json`.
///
/// Every field is always present (no optionals): a figure that does not apply is 0, an empty list or an empty
/// object, so a consumer can rely on the schema.
public struct BenchReport: Sendable, Codable {
    /// `rpcbench/1`.
    public var schema: String
    /// When the run started, ISO 8601 in UTC.
    public var startedAt: String
    /// `embedded` or the `host:port` of a remote `rpcbench serve`.
    public var target: String
    /// The settings the run used.
    public var configuration: ReportConfiguration
    /// `calm`, `storm` and (unless turned off) `storm-propagation-off`, in that order.
    public var phases: [PhaseReport]
    /// The headline ratios.
    public var comparison: Comparison
    /// The servers once the run was over.
    public var afterRun: AfterRun
    /// Resident memory before and after.
    public var memory: MemoryReport
    /// Whether client and handler instants come from one clock.
    public var clock: ClockCheck
    /// The project's goals, each checked against this run.
    public var goals: [GoalCheck]
    /// The shared client connections: how many were opened for how many clients (more means some were lost).
    public var sharedConnections: SharedConnectionCount = .notCounted

    /// The JSON schema name of this version.
    public static let schemaName = "rpcbench/1"

    /// Creates a report.
    public init(
        startedAt: String,
        target: String,
        configuration: ReportConfiguration,
        phases: [PhaseReport],
        comparison: Comparison,
        afterRun: AfterRun,
        memory: MemoryReport,
        clock: ClockCheck,
        goals: [GoalCheck]
    ) {
        self.schema = Self.schemaName
        self.startedAt = startedAt
        self.target = target
        self.configuration = configuration
        self.phases = phases
        self.comparison = comparison
        self.afterRun = afterRun
        self.memory = memory
        self.clock = clock
        self.goals = goals
    }

    /// The phase named `name`, if it ran.
    public func phase(_ name: String) -> PhaseReport? {
        self.phases.first { $0.name == name }
    }

    /// Pretty-printed JSON with sorted keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
