import Foundation

/// DeadlineRPC beside its peers under the same workload in one sitting: one column per stack, the same rows as
/// text, Markdown (to paste into docs/PERFORMANCE.md) and JSON. The first column is the baseline the verdicts
/// compare the others with.
public struct SideBySideReport: Sendable, Codable {
    /// `peerstorm/1`.
    public var schema = "peerstorm/1"
    /// The columns, baseline first.
    public var columns: [SideBySideColumn]
    /// Where each column's figures came from (report or JSON line paths), by stack.
    public var sources: [String: String]
    /// One line per non-baseline stack comparing its victims and wasted work with the baseline's.
    public var verdicts: [String] { Self.verdicts(self.columns) }

    /// Creates a report.
    public init(columns: [SideBySideColumn], sources: [String: String] = [:]) {
        self.columns = columns
        self.sources = sources
    }

    /// Pretty-printed JSON with sorted keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The table's rows: a label, then one cell per column.
    public var rows: [[String]] {
        let cols = self.columns
        func row(_ label: String, _ cell: (SideBySideColumn) -> String) -> [String] { [label] + cols.map(cell) }
        return [
            ["figure"] + cols.map(\.stack),
            row("victims calm p50 / p99 / p99.9 / max µs") { Self.four($0.victimsCalm) },
            row("victims storm p50 / p99 / p99.9 / max µs") { $0.victimsStorm.map(Self.four) ?? "no storm" },
            row("victims p99 storm / calm (goal ≤ \(Self.f(ReportBuilder.Goals.victimP99Ratio))×)") { $0.p99Ratio.map { "\(Self.f($0))×" } ?? "–" },
            row("victim errors calm / storm") { column in
                let storm = column.victimErrorsStorm.map { errors in
                    errors == 0 ? "0" : "\(errors) (" + (column.victimErrorsStormByCode ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
                } ?? "–"
                return "\(column.victimErrorsCalm) / \(storm)"
            },
            row("shared connections lost") { $0.sharedConnectionsLost.map(String.init) ?? "not counted" },
            row("cancel → handler task, hop 1, p50 / p99 µs") { Self.pair($0.cancelToTaskFirstHop, never: $0.cancelNeverReachedTaskByHop?.first) },
            row("cancel → handler task, last hop, p50 / p99 µs") { Self.pair($0.cancelToTaskLastHop, never: $0.cancelNeverReachedTaskByHop?.last) },
            row("deadline → handler task, hop 1, p50 / p99 µs") { Self.pair($0.deadlineToTaskFirstHop, never: $0.deadlineNeverReachedTaskByHop?.first) },
            row("deadline → handler task, last hop, p50 / p99 µs") { Self.pair($0.deadlineToTaskLastHop, never: $0.deadlineNeverReachedTaskByHop?.last) },
            row("wasted work, all hops / beyond hop 1, ms") { column in
                guard let total = column.wastedWorkMilliseconds else { return "–" }
                return "\(Self.f(total)) / \(Self.f(column.wastedBeyondFirstHopMilliseconds ?? 0))"
            },
            row("wasted per cooperative handler, p99 µs") { $0.wastedPerCooperativeHandlerP99.map(Self.f) ?? "–" },
            row("handlers run to completion after death") { $0.ranToCompletionAfterDeath.map(String.init) ?? "–" },
            row("handlers in flight after the run") { $0.handlersInFlightAfter.map(String.init) ?? "–" },
            row("serving RSS after / peak MiB") { column in
                let after = column.serverRSSAfterBytes.map { Self.f(Double($0) / 1_048_576) } ?? "–"
                let peak = column.peakRSSBytes.map { Self.f(Double($0) / 1_048_576) } ?? "–"
                return "\(after) / \(peak)"
            },
        ]
    }

    /// Aligned plain text, then the verdicts.
    public var text: String {
        (ReportTable.align(self.rows) + [""] + self.verdicts).joined(separator: "\n")
    }

    /// A Markdown table, then the verdicts as a list.
    public var markdown: String {
        let rows = self.rows
        guard let header = rows.first else { return "" }
        func line(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
        var lines = [line(header), "|" + ([" --- "] + Array(repeating: " ---: ", count: header.count - 1)).joined(separator: "|") + "|"]
        lines += rows.dropFirst().map(line)
        lines.append("")
        lines += self.verdicts.map { "- \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Compares every stack that ran the storm with the first column.
    static func verdicts(_ columns: [SideBySideColumn]) -> [String] {
        guard let base = columns.first, let baseStorm = base.victimsStorm else { return [] }
        return columns.dropFirst().compactMap { other -> String? in
            guard let otherStorm = other.victimsStorm else { return nil }
            var parts: [String] = []
            parts.append("victims' p99 under the storm \(Self.f(otherStorm.p99)) µs vs \(Self.f(baseStorm.p99)) µs (\(Self.times(otherStorm.p99, baseStorm.p99)))")
            parts.append("victim errors \(other.victimErrorsStorm ?? 0) vs \(base.victimErrorsStorm ?? 0)")
            if let waste = other.wastedWorkMilliseconds, let baseWaste = base.wastedWorkMilliseconds {
                parts.append("wasted work \(Self.f(waste)) ms vs \(Self.f(baseWaste)) ms (\(Self.times(waste, baseWaste)))")
            }
            return "\(other.stack) vs \(base.stack): " + parts.joined(separator: "; ")
        }
    }

    // MARK: Formatting

    static func f(_ value: Double) -> String { ReportBuilder.format(value) }

    static func four(_ s: LatencySummary) -> String {
        s.count == 0 ? "–" : "\(f(s.p50)) / \(f(s.p99)) / \(f(s.p999)) / \(f(s.max))"
    }

    static func pair(_ s: LatencySummary?, never: Int?) -> String {
        guard let s else { return "–" }
        // Handlers that outlived the death without their task being cancelled: the leak, counted.
        let never = (never ?? 0) > 0 ? "\(never ?? 0) never" : ""
        if s.count == 0 { return never.isEmpty ? "–" : never }
        return "\(f(s.p50)) / \(f(s.p99))" + (never.isEmpty ? "" : ", \(never)")
    }

    /// `3.2× the baseline`, or a note when the baseline is 0.
    static func times(_ value: Double, _ base: Double) -> String {
        base > 0 ? "\(f(value / base))×" : (value > 0 ? "baseline 0" : "both 0")
    }
}
