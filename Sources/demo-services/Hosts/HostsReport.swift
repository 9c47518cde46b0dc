import DemoTopology

/// The section `launch --hosts` prints below the scenario table: the replicas killed and drained mid-run, the
/// requests that failed because of them, and — from the table's own cells — whether the budget still reached
/// every hop after them.
enum HostsReport {
    /// The events that happened before one scenario.
    typealias Interlude = (before: Int, events: [ReplicaEvent])

    /// The section's lines, for `rows` (the table's) and the `interludes` that ran between them.
    static func render(_ rows: [ScenarioSession.Row], interludes: [Interlude], plan: HostPlan) -> [String] {
        var lines = [
            "Replicas across hosts — every service on a host of its own, \(Self.replicatedSummary) behind one DNS name "
                + "each, the \(HostPlan.offsetService.rawValue)'s clock \(HostPlan.clockOffset.components.seconds / 86_400) days ahead:"
        ]
        for interlude in interludes {
            let kinds = Dictionary(grouping: interlude.events, by: \.event)
            for event in HostPlan.events where kinds[event] != nil {
                let verb = event.kind == .kill ? "SIGKILLed" : "drained"
                lines.append("   before scenario \(interlude.before + 1): \(event.service.rawValue) r\(event.replica) \(verb)")
                for outcome in kinds[event] ?? [] {
                    lines.append("      propagation \(outcome.victim.propagation): \(outcome.line)")
                }
            }
        }
        let firstAfter = interludes.map(\.before).min() ?? rows.count
        let checkouts = interludes.flatMap(\.events).map(\.checkouts)
        let sent = checkouts.map(\.sent).reduce(0, +)
        let failedCheckouts = checkouts.map(\.failed).reduce(0, +)
        let later = rows.dropFirst(firstAfter).flatMap(\.results)
        let failedScenarios = later.filter(Self.failedForUnavailability).count
        lines.append(
            "   Requests failed because of the kill and the drain: \(failedCheckouts + failedScenarios) "
                + "(\(sent) checkouts sent while they happened: \(failedCheckouts) not answered 200; "
                + "\(later.count) scenario request\(later.count == 1 ? "" : "s") after them: \(failedScenarios) answered 502/503 or with a hop failed)"
        )
        let firstKinds = Set(interludes.filter { $0.before == firstAfter }.flatMap(\.events).map(\.event.kind))
        let after = [HostPlan.Event.Kind.kill, .drain].filter(firstKinds.contains).map { "the \($0.rawValue)" }.joined(separator: " and ")
        lines.append("   From scenario \(firstAfter + 1) on (after \(after)), where a budget ran out (from the table):")
        let columns = rows.first?.results.map(\.propagation) ?? []
        for (column, propagation) in columns.enumerated() {
            let results = rows.dropFirst(firstAfter).compactMap { $0.results.indices.contains(column) ? $0.results[column] : nil }
            lines.append("      propagation \(propagation): " + Self.reach(results))
        }
        return lines
    }

    /// `pricing and inventory two replicas`.
    private static var replicatedSummary: String {
        let names = HostPlan.replicated.keys.sorted().map(\.rawValue)
        return names.joined(separator: " and ") + " two replicas"
    }

    /// Whether a scenario request failed as a lost replica would make it fail: 502/503 (or no answer) at the front
    /// door, or a hop that failed rather than ending ok or by its budget.
    static func failedForUnavailability(_ result: ScenarioResult) -> Bool {
        [0, 502, 503].contains(result.httpStatus) || result.hops.values.contains { $0.outcome == .failed }
    }

    /// Which hops were cancelled when their budget ran out and which worked on past it, over `results`, in
    /// call-path order.
    private static func reach(_ results: [ScenarioResult]) -> String {
        var cancelled: [String] = []
        var workedOn: [String] = []
        for service in ServiceName.rpcServices {
            for result in results {
                guard let hop = result.hops[service], hop.ran else { continue }
                var label = service.rawValue
                if hop.replicaCount > 1 { label += " [" + hop.replicas.map { "r\($0)" }.joined(separator: ",") + "]" }
                if service == HostPlan.offsetService { label += " (clock +\(HostPlan.clockOffset.components.seconds / 86_400) days)" }
                if hop.outcome == .cancelled {
                    if !cancelled.contains(label) { cancelled.append(label) }
                } else if hop.ranPastBudget != nil, !workedOn.contains(label) {
                    workedOn.append(label)
                }
            }
        }
        guard !cancelled.isEmpty || !workedOn.isEmpty else {
            return "no handler was still working when a budget ran out after them (budget-gone, fallback and straggler show it)"
        }
        return "cancelled: \(cancelled.isEmpty ? "none" : cancelled.joined(separator: ", ")); "
            + "worked on past the budget, never told: \(workedOn.isEmpty ? "none" : workedOn.joined(separator: ", "))"
    }
}
