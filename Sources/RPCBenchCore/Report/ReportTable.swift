/// The human-readable table `rpcbench` prints at the end of a run.
public enum ReportTable {
    /// Renders `report` as aligned plain-text tables.
    public static func render(_ report: BenchReport) -> String {
        let c = report.configuration
        var out: [String] = []
        let load = c.mode == "open" ? "open loop \(fmt(c.rate))/s" : "closed loop, \(c.concurrency) callers"
        out.append(
            "rpcbench — \(c.stack) under a cancellation storm: \(report.target), \(c.hops)-hop chain, \(load), "
                + "\(c.payloadBytes) B, \(c.connections) connection\(c.connections == 1 ? "" : "s"), handlers on \(c.handlerExecutor) executor, "
                + "\(fmt(c.durationSeconds)) s per phase, \(c.build) build"
        )
        if c.build != "release" { out.append("WARNING: a debug build misstates every figure; use `swift run -c release rpcbench`.") }
        if !report.clock.shared {
            out.append("WARNING: the server's clock is not this host's; cancel-to-handler figures are not meaningful.")
        }
        out.append("")

        // Victims.
        let phases = report.phases
        let header = ["Victims (\(report.victimCalls))"] + phases.map(\.name)
        var rows: [[String]] = [header]
        rows.append(["calls"] + phases.map { "\($0.victims.calls)" })
        rows.append(["throughput /s"] + phases.map { fmt($0.victims.throughputPerSecond) })
        rows.append(["errors"] + phases.map { errors($0.victims) })
        rows.append(["p50 µs"] + phases.map { fmt($0.victims.latencyMicroseconds.p50) })
        rows.append(["p90 µs"] + phases.map { fmt($0.victims.latencyMicroseconds.p90) })
        rows.append(["p99 µs"] + phases.map { fmt($0.victims.latencyMicroseconds.p99) })
        rows.append(["p99.9 µs"] + phases.map { fmt($0.victims.latencyMicroseconds.p999) })
        rows.append(["max µs"] + phases.map { fmt($0.victims.latencyMicroseconds.max) })
        let calmP99 = report.comparison.victimP99CalmMicroseconds
        rows.append(["p99 vs calm"] + phases.map { calmP99 > 0 ? "\(fmt($0.victims.latencyMicroseconds.p99 / calmP99))×" : "–" })
        if c.mode == "open" {
            rows.append(["pacer late p99 µs"] + phases.map { fmt($0.pacerLatenessMicroseconds.p99) })
        }
        out.append(contentsOf: Self.align(rows))
        out.append("")

        // Storm.
        let stormPhases = phases.filter(\.storm)
        if !stormPhases.isEmpty {
            let last = c.hops
            var storm: [[String]] = [["Storm (p50 / p99 µs)"] + stormPhases.map { $0.propagation ? "propagation on" : "propagation off" }]
            storm.append(["storm calls"] + stormPhases.map { "\($0.stormResults.totalCalls)" })
            for kind in StormKind.allCases where stormPhases.contains(where: { $0.stormResults.callsByKind[kind.rawValue] != nil }) {
                storm.append(["  \(kind.rawValue)"] + stormPhases.map { "\($0.stormResults.callsByKind[kind.rawValue] ?? 0)" })
            }
            storm.append(["died before handler ran"] + stormPhases.map { "\($0.stormResults.diedBeforeHandlerByKind.values.reduce(0, +))" })
            storm.append(["cancel → handler task, hop 1"] + stormPhases.map { pair($0.stormResults.cancelToHandlerTask.firstHop) })
            if last > 1 {
                storm.append(["cancel → handler task, hop \(last)"] + stormPhases.map { lastHop($0.stormResults.cancelToHandlerTask, last) })
            }
            storm.append(["cancel → handler sees it, hop \(last)"] + stormPhases.map { lastHop($0.stormResults.cancelToHandlerObserved, last) })
            storm.append(["deadline → handler task, hop 1"] + stormPhases.map { pair($0.stormResults.deadlineToHandlerTask.firstHop) + stopped($0.stormResults.deadlineToHandlerTask, 1) })
            if last > 1 {
                storm.append(["deadline → handler task, hop \(last)"] + stormPhases.map { lastHop($0.stormResults.deadlineToHandlerTask, last) })
            }
            storm.append(["burst cancel → handler task"] + stormPhases.map { pair($0.stormResults.burstCancelToHandlerTask) })
            storm.append(["disconnect → handler task"] + stormPhases.map { pair($0.stormResults.disconnectToHandlerTask) })
            for hop in 1...max(1, last) {
                storm.append(
                    ["wasted work, hop \(hop) (ms; p99 µs)"]
                        + stormPhases.map { phase in
                            guard hop <= phase.stormResults.wastedWork.byHop.count else { return "–" }
                            let waste = phase.stormResults.wastedWork.byHop[hop - 1]
                            return "\(fmt(waste.totalMilliseconds)); \(fmt(waste.perHandlerMicroseconds.p99))"
                        }
                )
            }
            for kind in StormKind.allCases where stormPhases.contains(where: { $0.stormResults.wastedWork.byKind[kind.rawValue] != nil }) {
                storm.append(
                    ["wasted work, \(kind.rawValue) (ms; p99 µs)"]
                        + stormPhases.map { phase in
                            guard let waste = phase.stormResults.wastedWork.byKind[kind.rawValue] else { return "–" }
                            return "\(fmt(waste.totalMilliseconds)); \(fmt(waste.perHandlerMicroseconds.p99))"
                        }
                )
            }
            storm.append(
                ["ran to completion after death"]
                    + stormPhases.map { "\($0.stormResults.wastedWork.byHop.reduce(0) { $0 + $1.ranToCompletionAfterDeath })" }
            )
            storm.append(["new stragglers"] + stormPhases.map { "\($0.server.stragglers)" })
            storm.append(["settle after phase, ms"] + stormPhases.map { fmt($0.server.settleMilliseconds) })
            out.append(contentsOf: Self.align(storm))
            out.append("")
        }

        // After the run.
        let a = report.afterRun
        let m = report.memory
        var after: [[String]] = [["After the run", ""]]
        after.append(["handlers in flight, by hop", a.handlersInFlightByHop.map(String.init).joined(separator: " / ") + (a.drained ? "  (drained in \(fmt(a.drainMilliseconds)) ms)" : "  (NOT drained)")])
        after.append(["stragglers now / ever", "\(a.stragglersNowByHop.reduce(0, +)) / \(a.stragglersTotalByHop.reduce(0, +))"])
        let shared = report.sharedConnections
        if shared.counted {
            after.append(["shared connections", "\(shared.opened) opened for \(shared.clients) clients (\(shared.lost) lost)"])
        }
        after.append(["RSS before → after (this process)", "\(mib(m.rssBeforeBytes)) → \(mib(m.rssAfterBytes)) MiB (\(fmt(m.rssRatio))×), peak \(mib(m.peakRSSBytes)) MiB"])
        if report.target != "embedded" {
            after.append(["RSS before → after (server)", "\(mib(m.serverRSSBeforeBytes)) → \(mib(m.serverRSSAfterBytes)) MiB (\(fmt(m.serverRSSRatio))×)"])
        }
        out.append(contentsOf: Self.align(after))
        out.append("")

        // Goals.
        out.append("Goals (anchors §2, §2c)")
        for goal in report.goals {
            out.append("  \(goal.met ? "[met]   " : "[missed]") \(goal.name): \(goal.measured)  (goal \(goal.target))")
        }
        return out.joined(separator: "\n")
    }

    // MARK: Formatting

    /// A number for a cell.
    static func fmt(_ value: Double) -> String { ReportBuilder.format(value) }

    /// `p50 / p99  (n=count)`, or `–` when nothing was measured.
    static func pair(_ summary: LatencySummary) -> String {
        summary.count == 0 ? "–" : "\(fmt(summary.p50)) / \(fmt(summary.p99))  (n=\(summary.count))"
    }

    /// The last hop's latency, and how many handlers there never learned of the death.
    static func lastHop(_ latencies: HopLatencies, _ hop: Int) -> String {
        let never = latencies.neverCancelledByHop.indices.contains(hop - 1) ? latencies.neverCancelledByHop[hop - 1] : 0
        if latencies.lastHop.count == 0 {
            return never > 0 ? "never (\(never) ran on)" : "–"
        }
        return pair(latencies.lastHop) + (never > 0 ? ", \(never) never" : "") + stopped(latencies, hop)
    }

    /// `, k stopped by their own call`: handlers that stopped without this instant (see
    /// ``HopLatencies/stoppedUnmeasuredByHop``).
    static func stopped(_ latencies: HopLatencies, _ hop: Int) -> String {
        let stopped = latencies.stoppedUnmeasuredByHop.indices.contains(hop - 1) ? latencies.stoppedUnmeasuredByHop[hop - 1] : 0
        return stopped > 0 ? ", \(stopped) stopped by their own call" : ""
    }

    /// Victim errors with their codes.
    static func errors(_ victims: VictimReport) -> String {
        guard victims.errors > 0 else { return "0" }
        let codes = victims.errorsByCode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(victims.errors) (\(codes))"
    }

    /// Bytes as MiB.
    static func mib(_ bytes: Int) -> String { fmt(Double(bytes) / 1_048_576) }

    /// Left-aligns the first column and right-aligns the others.
    static func align(_ rows: [[String]]) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                line += index == 0 ? cell + pad : "   " + pad + cell
            }
            return line
        }
    }
}
