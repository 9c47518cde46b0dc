/// The table `rpcbench --replicas N` prints: the phases side by side, the kills, the replicas after the run, goals.
public enum ReplicaBenchTable {
    /// Renders `report` as aligned plain-text tables.
    public static func render(_ report: ReplicaBenchReport) -> String {
        let c = report.configuration
        let fmt = ReportTable.fmt
        var out: [String] = []
        let load = c.mode == "open" ? "open loop \(fmt(c.rate))/s" : "closed loop, \(c.concurrency) callers"
        let kills = c.killEverySeconds > 0 ? "one killed (SIGKILL) every \(fmt(c.killEverySeconds)) s, down \(fmt(c.downForSeconds)) s" : "no kills"
        out.append(
            "rpcbench — DeadlineRPC replicas: \(c.replicas) `rpcbench serve` processes on 127.0.0.1, \(kills); \(c.balancing), "
                + "\(c.retry ? "RetryInterceptor" : "no retry"), \(load), \(c.payloadBytes) B, \(c.clients) client\(c.clients == 1 ? "" : "s"), "
                + "\(fmt(c.durationSeconds)) s per phase, \(c.build) build"
        )
        if c.build != "release" { out.append("WARNING: a debug build misstates every figure; use `swift run -c release rpcbench`.") }
        out.append("")

        let phases = report.phases
        let single = report.phase("single")?.victims.latencyMicroseconds.p99 ?? 0
        var rows: [[String]] = [["Victims (rpcbench.Bench/Echo, idempotent)"] + phases.map(\.name)]
        rows.append(["endpoints"] + phases.map { "\($0.endpoints)" })
        rows.append(["kills (restarted)"] + phases.map { "\($0.kills.count)" })
        rows.append(["calls"] + phases.map { "\($0.victims.calls)" })
        rows.append(["throughput /s"] + phases.map { fmt($0.victims.throughputPerSecond) })
        rows.append(["errors"] + phases.map { ReportTable.errors($0.victims) })
        rows.append(["p50 µs"] + phases.map { fmt($0.victims.latencyMicroseconds.p50) })
        rows.append(["p99 µs"] + phases.map { fmt($0.victims.latencyMicroseconds.p99) })
        rows.append(["p99.9 µs"] + phases.map { fmt($0.victims.latencyMicroseconds.p999) })
        rows.append(["max µs"] + phases.map { fmt($0.victims.latencyMicroseconds.max) })
        rows.append(["calls by replica"] + phases.map { $0.callsByReplica.map(String.init).joined(separator: " / ") })
        rows.append(["p99 vs single"] + phases.map { single > 0 ? "\(fmt($0.victims.latencyMicroseconds.p99 / single))×" : "–" })
        rows.append(["transparent retries"] + phases.map { "\($0.client.transparentRetries)" })
        rows.append(["retries"] + phases.map { "\($0.client.retries)" })
        rows.append(["retries refused (budget/deadline/attempts)"] + phases.map {
            "\($0.client.retriesRefused) (\($0.client.retriesRefusedByBudget)/\($0.client.retriesRefusedByDeadline)/\($0.client.retriesRefusedAtMaxAttempts))"
        })
        rows.append(["GOAWAYs received"] + phases.map { "\($0.client.goAwaysReceived)" })
        rows.append(["endpoints ejected"] + phases.map { "\($0.client.endpointsEjected)" })
        rows.append(["connections opened"] + phases.map { "\($0.client.connectionsOpened)" })
        rows.append(["shed for latency"] + phases.map { "\($0.client.shedForLatency)" })
        rows.append(["client CPU µs per call"] + phases.map { fmt($0.clientCPUMicrosecondsPerCall) })
        if c.mode == "open" {
            rows.append(["pacer late p99 µs"] + phases.map { fmt($0.pacerLatenessMicroseconds.p99) })
        }
        out.append(contentsOf: ReportTable.align(rows))

        if let killed = report.phase("kills"), !killed.kills.isEmpty {
            out.append("")
            var events: [[String]] = [["Kills", "replica", "port", "at s", "back after ms"]]
            for (number, kill) in killed.kills.enumerated() {
                events.append(["  \(number + 1)", "\(kill.replica)", "\(kill.port)", fmt(kill.atSeconds), fmt(kill.downMilliseconds)])
            }
            out.append(contentsOf: ReportTable.align(events))
        }
        out.append("")

        let a = report.afterRun
        var after: [[String]] = [["After the run", ""]]
        after.append(["handlers in flight (all replicas)", "\(a.handlersInFlight)\(a.drained ? "" : " (not drained)")"])
        after.append(["calls started by replica", a.callsStartedByReplica.map(String.init).joined(separator: " / ")])
        after.append(["child processes started / left", "\(a.childrenStarted) / \(a.childrenLeft)"])
        out.append(contentsOf: ReportTable.align(after))
        out.append("")

        out.append("Goals (issue #16)")
        for goal in report.goals {
            out.append("  \(goal.met ? "[met]   " : "[missed]") \(goal.name): \(goal.measured)  (goal \(goal.target))")
        }
        return out.joined(separator: "\n")
    }

    /// The victims' latency in each phase (log scale against percentile), as SVG.
    public static func plot(_ report: ReplicaBenchReport) -> String {
        let colors = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd"]
        let series = report.phases.enumerated().map { index, phase in
            PlotSeries(name: phase.name, points: phase.victims.percentileCurve, color: colors[index % colors.count])
        }
        return PercentilePlot.svg(
            title: "rpcbench: victims on one endpoint, on \(report.configuration.replicas) replicas, and with replicas killed",
            panels: [PlotPanel(title: "victim latency", series: series)]
        )
    }
}
