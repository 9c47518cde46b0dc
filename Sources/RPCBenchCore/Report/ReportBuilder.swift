/// Assembles a ``BenchReport`` from measured phases: the headline comparison and the goal checks.
public enum ReportBuilder {
    /// Phase names, in run order.
    public enum PhaseName {
        /// Victims alone.
        public static let calm = "calm"
        /// Victims beside the storm.
        public static let storm = "storm"
        /// The same, with the hop clients' propagation off.
        public static let stormPropagationOff = "storm-propagation-off"
    }

    /// Goal thresholds: the project's anchors (§2 and §2c) as issue #19 restated them.
    public enum Goals {
        /// Victims' p99 under storm / calm (issue #19: ≤ 2×; the anchors asked 1.25× before the storm grew its CPU-bound bursts).
        public static let victimP99Ratio = 2.0
        /// A burst's `cancelAll()` → each parked handler's task cancelled, p99, µs (issue #19).
        public static let burstCancelMicroseconds = 5_000.0
        /// Client cancel → handler task cancelled, p99, per hop, µs.
        public static let cancelPerHopMicroseconds = 60.0
        /// Deadline instant → handler task cancelled, p99, at every hop, µs.
        public static let deadlineMicroseconds = 200.0
        /// Extra wasted handler time allowed beyond one work slice, µs.
        public static let wasteSlackMicroseconds = 200.0
        /// RSS after / before.
        public static let rssRatio = 1.1
    }

    /// Builds the report.
    public static func report(
        startedAt: String,
        target: String,
        configuration: ReportConfiguration,
        phases: [PhaseReport],
        afterRun: AfterRun,
        memory: MemoryReport,
        clock: ClockCheck
    ) -> BenchReport {
        let comparison = Self.comparison(phases)
        let goals = Self.goals(phases: phases, comparison: comparison, configuration: configuration, afterRun: afterRun, memory: memory)
        return BenchReport(
            startedAt: startedAt,
            target: target,
            configuration: configuration,
            phases: phases,
            comparison: comparison,
            afterRun: afterRun,
            memory: memory,
            clock: clock,
            goals: goals
        )
    }

    /// The headline ratios from the phases (0 where a phase did not run).
    public static func comparison(_ phases: [PhaseReport]) -> Comparison {
        let calm = phases.first { $0.name == PhaseName.calm }
        let storm = phases.first { $0.name == PhaseName.storm }
        let off = phases.first { $0.name == PhaseName.stormPropagationOff }
        let calmP99 = calm?.victims.latencyMicroseconds.p99 ?? 0
        func ratio(_ value: Double) -> Double { calmP99 > 0 ? LatencySummary.round(value / calmP99) : 0 }
        return Comparison(
            victimP99CalmMicroseconds: calmP99,
            victimP99StormMicroseconds: storm?.victims.latencyMicroseconds.p99 ?? 0,
            victimP99Ratio: ratio(storm?.victims.latencyMicroseconds.p99 ?? 0),
            victimErrorsStorm: storm?.victims.errors ?? 0,
            victimThroughputCalm: calm?.victims.throughputPerSecond ?? 0,
            victimThroughputStorm: storm?.victims.throughputPerSecond ?? 0,
            victimP99PropagationOffMicroseconds: off?.victims.latencyMicroseconds.p99 ?? 0,
            victimP99RatioPropagationOff: ratio(off?.victims.latencyMicroseconds.p99 ?? 0),
            victimErrorsPropagationOff: off?.victims.errors ?? 0,
            wastedWorkPropagationOnMilliseconds: storm?.stormResults.wastedWork.totalMilliseconds ?? 0,
            wastedWorkPropagationOffMilliseconds: off?.stormResults.wastedWork.totalMilliseconds ?? 0,
            wastedBeyondFirstHopPropagationOnMilliseconds: storm?.stormResults.wastedWork.beyondFirstHopMilliseconds ?? 0,
            wastedBeyondFirstHopPropagationOffMilliseconds: off?.stormResults.wastedWork.beyondFirstHopMilliseconds ?? 0
        )
    }

    /// Checks the anchors' goals against the storm phase (propagation on) and the run's end state.
    public static func goals(
        phases: [PhaseReport],
        comparison: Comparison,
        configuration: ReportConfiguration,
        afterRun: AfterRun,
        memory: MemoryReport
    ) -> [GoalCheck] {
        var goals: [GoalCheck] = []
        func us(_ value: Double) -> String { "\(Self.format(value)) µs" }
        if let storm = phases.first(where: { $0.name == PhaseName.storm }) {
            let results = storm.stormResults
            goals.append(
                GoalCheck(
                    name: "victims' p99 under the storm vs without it",
                    target: "≤ \(Self.format(Goals.victimP99Ratio))×",
                    measured: "\(Self.format(comparison.victimP99Ratio))× (\(us(comparison.victimP99CalmMicroseconds)) → \(us(comparison.victimP99StormMicroseconds)))",
                    met: comparison.victimP99Ratio > 0 && comparison.victimP99Ratio <= Goals.victimP99Ratio
                )
            )
            goals.append(
                GoalCheck(
                    name: "victim errors under the storm",
                    target: "0",
                    measured: "\(storm.victims.errors)",
                    met: storm.victims.errors == 0
                )
            )
            let burst = results.burstCancelToHandlerTask
            if burst.count > 0 {
                goals.append(
                    GoalCheck(
                        name: "burst cancel → handler task cancelled, p99",
                        target: "≤ \(us(Goals.burstCancelMicroseconds))",
                        measured: us(burst.p99),
                        met: burst.p99 <= Goals.burstCancelMicroseconds
                    )
                )
            }
            let cancel = results.cancelToHandlerTask
            if cancel.firstHop.count > 0 {
                goals.append(
                    GoalCheck(
                        name: "client cancel → handler task cancelled, p99, hop 1",
                        target: "≤ \(us(Goals.cancelPerHopMicroseconds))",
                        measured: us(cancel.firstHop.p99),
                        met: cancel.firstHop.p99 <= Goals.cancelPerHopMicroseconds
                    )
                )
            }
            let hops = configuration.hops
            if hops > 1 {
                let limit = Goals.cancelPerHopMicroseconds * Double(hops)
                goals.append(
                    GoalCheck(
                        name: "client cancel → handler task cancelled, p99, hop \(hops)",
                        target: "≤ \(us(limit)) (\(us(Goals.cancelPerHopMicroseconds)) per hop)",
                        measured: cancel.lastHop.count > 0 ? us(cancel.lastHop.p99) : "never",
                        met: cancel.lastHop.count > 0 && cancel.lastHop.p99 <= limit
                            && cancel.neverCancelledByHop.allSatisfy { $0 == 0 }
                    )
                )
            }
            let deadline = results.deadlineToHandlerTask
            if deadline.firstHop.count > 0 {
                let worst = max(deadline.firstHop.p99, deadline.lastHop.p99)
                goals.append(
                    GoalCheck(
                        name: "deadline instant → handler task cancelled, p99, every hop",
                        target: "≤ \(us(Goals.deadlineMicroseconds))",
                        measured: hops > 1
                            ? "hop 1 \(us(deadline.firstHop.p99)), hop \(hops) \(deadline.lastHop.count > 0 ? us(deadline.lastHop.p99) : "never")"
                            : "hop 1 \(us(deadline.firstHop.p99))",
                        met: worst <= Goals.deadlineMicroseconds && deadline.neverCancelledByHop.allSatisfy { $0 == 0 }
                    )
                )
            }
            // Cooperative handlers only: burst and disconnect handlers park (they hold a slot, they do no work).
            let slack = configuration.storm.workUnitMicroseconds + Goals.wasteSlackMicroseconds
            let cooperative: [StormKind] = [.cancel, .deadline, .chainCancel, .chainDeadline]
            let wastes = cooperative.compactMap { kind in
                results.wastedWork.byKind[kind.rawValue].map { (kind.rawValue, $0.perHandlerMicroseconds.p99) }
            }
            if let worst = wastes.max(by: { $0.1 < $1.1 }) {
                goals.append(
                    GoalCheck(
                        name: "wasted work per cooperative storm handler with propagation on, p99, worst kind",
                        target: "≤ one work slice + \(us(Goals.wasteSlackMicroseconds)) = \(us(slack))",
                        measured: "\(us(worst.1)) (\(worst.0))",
                        met: worst.1 <= slack
                    )
                )
            }
        }
        goals.append(
            GoalCheck(
                name: "handlers in flight after the run",
                target: "0",
                measured: "\(afterRun.handlersInFlight) (by hop: \(afterRun.handlersInFlightByHop.map(String.init).joined(separator: "/")))",
                met: afterRun.handlersInFlight == 0 && afterRun.drained
            )
        )
        // The serving process's memory (the same process when embedded): that is where the runtime's calls live.
        goals.append(
            GoalCheck(
                name: "RSS after / before (serving process)",
                target: "≤ \(Self.format(Goals.rssRatio))×",
                measured: "\(Self.format(memory.serverRSSRatio))×",
                met: memory.serverRSSRatio > 0 && memory.serverRSSRatio <= Goals.rssRatio
            )
        )
        return goals
    }

    /// A number with up to two decimals, without trailing zeros.
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if value < 0 { return "-" + Self.format(-value) }
        if value >= 1_000 { return "\(Int(value.rounded()))" }
        let hundredths = Int((value * 100).rounded())
        let whole = hundredths / 100
        let fraction = abs(hundredths % 100)
        if fraction == 0 { return "\(whole)" }
        if fraction % 10 == 0 { return "\(whole).\(fraction / 10)" }
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
