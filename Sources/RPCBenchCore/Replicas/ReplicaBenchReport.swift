#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything a replica-chaos run measured: the structure of `replicas.json`. Every field is always present.
public struct ReplicaBenchReport: Sendable, Codable {
    /// `rpcbench-replicas/1`.
    public var schema: String
    /// When the run started, ISO 8601 in UTC.
    public var startedAt: String
    /// The settings.
    public var configuration: ReplicaBenchSettings
    /// `single`, `replicas` and (unless kills are off) `kills`, in that order.
    public var phases: [ReplicaPhaseReport]
    /// The replicas and child processes after the run.
    public var afterRun: ReplicaAfterRun
    /// Each goal, checked.
    public var goals: [GoalCheck]

    /// The JSON schema name of this version.
    public static let schemaName = "rpcbench-replicas/1"

    /// Creates a report; the goals follow from the figures.
    public init(startedAt: String, configuration: ReplicaBenchSettings, phases: [ReplicaPhaseReport], afterRun: ReplicaAfterRun) {
        self.schema = Self.schemaName
        self.startedAt = startedAt
        self.configuration = configuration
        self.phases = phases
        self.afterRun = afterRun
        self.goals = Self.goals(phases: phases, afterRun: afterRun, retry: configuration.retry)
    }

    /// The phase named `name`, if it ran.
    public func phase(_ name: String) -> ReplicaPhaseReport? {
        self.phases.first { $0.name == name }
    }

    /// Pretty-printed JSON with sorted keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Issue #16's: a killed replica costs 0 failed idempotent calls (with retry); nothing left running afterwards.
    static func goals(phases: [ReplicaPhaseReport], afterRun: ReplicaAfterRun, retry: Bool) -> [GoalCheck] {
        var goals: [GoalCheck] = []
        if let kills = phases.first(where: { $0.name == "kills" }), retry {
            goals.append(
                GoalCheck(
                    name: "victim errors while replicas are killed (idempotent, with retry)",
                    target: "0",
                    measured: "\(kills.victims.errors) in \(kills.victims.calls) calls, \(kills.kills.count) kills",
                    met: kills.victims.errors == 0
                )
            )
        }
        goals.append(
            GoalCheck(
                name: "handlers in flight on the replicas after the run",
                target: "0",
                measured: "\(afterRun.handlersInFlight)",
                met: afterRun.drained && afterRun.handlersInFlight == 0
            )
        )
        goals.append(
            GoalCheck(
                name: "child processes left after the run",
                target: "0",
                measured: "\(afterRun.childrenLeft) of \(afterRun.childrenStarted)",
                met: afterRun.childrenLeft == 0
            )
        )
        return goals
    }
}
