import DemoTopology

/// Renders scenario results as text: one block per scenario, one column per topology (propagation on, off).
enum ScenarioTable {
    /// The whole report for `rows` (each scenario with its results, one per topology, in column order); `tls`
    /// says every RPC hop ran over TLS (`--tls`).
    static func render(_ rows: [(scenario: Scenario, results: [ScenarioResult])], settings: TopologySettings, tls: Bool = false) -> String {
        var out = tls ? [ServiceTLS.reportLine, ""] : []
        out += Self.diagram(settings)
        for (index, row) in rows.enumerated() {
            out.append("\(index + 1). \(row.scenario.title) — GET \(row.scenario.path)"
                + (row.scenario.budgetMs.map { "  (X-Budget-Ms: \($0))" } ?? ""))
            out.append("   \(row.scenario.story)")
            out.append(Self.block(row.results))
            out.append("")
        }
        out += Self.summary(rows)
        return out.joined(separator: "\n")
    }

    /// The topology, as a newcomer needs it to read the tables.
    static func diagram(_ settings: TopologySettings) -> [String] {
        let head = "  HTTP ─▶ frontdoor (budget \(settings.budget.wholeMilliseconds) ms) ─▶ gateway ─"
        let indent = String(repeating: " ", count: head.count)
        return [
            "The checkout path (each hop's cell: how its handler ended, and +ms it kept running after the budget was gone):",
            "",
            head + "┬─▶ catalog",
            indent + "├─▶ pricing ─▶ inventory ─▶ warehouse (slow: \(settings.latency(.warehouse)))",
            indent + "├─▶ recommendations (non-critical: fallback after \(settings.recommendationsBudget.wholeMilliseconds) ms)",
            indent + "└─▶ fraud (orders ≥ \(CheckoutRequest.fraudCheckQuantity); ignores cancellation)",
            "",
        ]
    }

    /// Totals over every scenario, per topology.
    static func summary(_ rows: [(scenario: Scenario, results: [ScenarioResult])]) -> [String] {
        guard let columns = rows.first?.results.map(\.propagation), rows.contains(where: { $0.results.contains { !$0.hops.isEmpty } }) else {
            return []
        }
        var lines = ["In all, handlers kept working after their budget was gone:"]
        for (column, propagation) in columns.enumerated() {
            let results = rows.compactMap { $0.results.indices.contains(column) ? $0.results[column] : nil }
            let total = results.map(\.totalRanPastBudget).reduce(.zero, +)
            let stragglers = results.map(\.stragglers).reduce(0, +)
            let fraud = results.compactMap { $0.hops[.fraud]?.ranPastBudget }.reduce(.zero, +)
            let fraudShare = fraud > .zero ? " (\(fraud.wholeMilliseconds) ms of it the fraud service, which ignores cancellation)" : ""
            lines.append("   propagation \(propagation): \(total.wholeMilliseconds) ms\(fraudShare); stragglers caught: \(stragglers)")
        }
        return lines
    }

    /// One scenario's table.
    static func block(_ results: [ScenarioResult]) -> String {
        var lines: [(String, [String])] = []
        lines.append(("", results.map { "propagation \($0.propagation)" }))
        lines.append(("HTTP answer", results.map(\.httpCell)))
        let known = results.contains { !$0.hops.isEmpty }
        if known {
            for service in ServiceName.rpcServices {
                let label = String(repeating: "· ", count: service.depth - 1) + service.rawValue
                lines.append((label, results.map { $0.hops[service]?.cell ?? "?" }))
            }
            lines.append(("ran past budget", results.map { result in
                result.hopsRanPastBudget == 0
                    ? "no handler"
                    : "\(result.hopsRanPastBudget) handler\(result.hopsRanPastBudget == 1 ? "" : "s"), \(result.totalRanPastBudget.wholeMilliseconds) ms in all"
            }))
            lines.append(("stragglers", results.map { "\($0.stragglers)" }))
        }
        let labelWidth = max(20, (lines.map(\.0.count).max() ?? 0) + 2)
        var widths = [Int](repeating: 0, count: results.count)
        for (_, cells) in lines {
            for (column, cell) in cells.enumerated() { widths[column] = max(widths[column], cell.count + 3) }
        }
        return lines.map { label, cells in
            var line = "   " + label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            for (column, cell) in cells.enumerated() {
                line += column == cells.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            return line
        }.joined(separator: "\n")
    }
}
