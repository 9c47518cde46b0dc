/// Joins the client's storm records with the handlers' records by tag and turns them into a ``StormReport``.
public enum StormAnalysis {
    /// Builds the storm figures of one phase for a chain of `hops` servers.
    ///
    /// A handler that started before its call died contributes the time from the death to its task's
    /// cancellation (and to its code noticing); every handler contributes the time it ran after the death
    /// (wasted work). Handler records without a matching client record are ignored.
    public static func report(calls: [StormCallRecord], handlers: [HandlerRecord], hops: Int) -> StormReport {
        let hops = max(1, hops)
        var byTag: [UInt64: StormCallRecord] = [:]
        byTag.reserveCapacity(calls.count)
        var callsByKind: [String: Int] = [:]
        var outcomesByKind: [String: [String: Int]] = [:]
        for call in calls {
            byTag[call.tag] = call
            callsByKind[call.kind.rawValue, default: 0] += 1
            outcomesByKind[call.kind.rawValue, default: [:]][call.outcome, default: 0] += 1
        }

        var cancelTask = HopHistograms(hops: hops)
        var cancelObserved = HopHistograms(hops: hops)
        var deadlineTask = HopHistograms(hops: hops)
        var deadlineObserved = HopHistograms(hops: hops)
        var burstTask = LatencyHistogram()
        var disconnectTask = LatencyHistogram()
        var waste = (0..<hops).map { _ in LatencyHistogram() }
        var wasteTotal = Array(repeating: Int64(0), count: hops)
        var handlerCount = Array(repeating: 0, count: hops)
        var pastDeath = Array(repeating: 0, count: hops)
        var ranOn = Array(repeating: 0, count: hops)
        var reachedFirstHop = Set<UInt64>()
        var kindWaste: [StormKind: (handlers: Int, total: Int64, histogram: LatencyHistogram)] = [:]

        for handler in handlers {
            guard let call = byTag[handler.tag] else { continue }
            let index = min(max(handler.hop, 1), hops) - 1
            let dead = call.deadAt
            let startedBeforeDeath = handler.startedAt <= dead
            if handler.hop == 1 && startedBeforeDeath { reachedFirstHop.insert(handler.tag) }

            if startedBeforeDeath {
                switch call.kind {
                case .cancel, .chainCancel:
                    cancelTask.record(index, handler.cancelledAt, after: dead, handler)
                    cancelObserved.record(index, handler.observedAt, after: dead, handler)
                case .deadline, .chainDeadline:
                    deadlineTask.record(index, handler.cancelledAt, after: dead, handler)
                    deadlineObserved.record(index, handler.observedAt, after: dead, handler)
                // At hop 1, as reported: a target whose every call fans out (the demo topology) has handlers
                // further down too, which the cancel reaches only through hop 1.
                case .burst:
                    if handler.hop == 1 && handler.cancelledAt > 0 { burstTask.record(nanoseconds: handler.cancelledAt - dead) }
                case .disconnect:
                    if handler.hop == 1 && handler.cancelledAt > 0 { disconnectTask.record(nanoseconds: handler.cancelledAt - dead) }
                }
            }

            handlerCount[index] += 1
            let wasted = max(0, handler.endedAt - max(handler.startedAt, dead))
            waste[index].record(nanoseconds: wasted)
            wasteTotal[index] += wasted
            if wasted > 0 { pastDeath[index] += 1 }
            if handler.completed && handler.endedAt > dead { ranOn[index] += 1 }
            var perKind = kindWaste[call.kind] ?? (0, 0, LatencyHistogram())
            perKind.handlers += 1
            perKind.total += wasted
            perKind.histogram.record(nanoseconds: wasted)
            kindWaste[call.kind] = perKind
        }

        var diedBeforeHandler: [String: Int] = [:]
        for call in calls where !reachedFirstHop.contains(call.tag) {
            diedBeforeHandler[call.kind.rawValue, default: 0] += 1
        }
        let byHop = (0..<hops).map { index in
            HopWaste(
                hop: index + 1,
                handlers: handlerCount[index],
                handlersPastDeath: pastDeath[index],
                ranToCompletionAfterDeath: ranOn[index],
                totalMilliseconds: LatencySummary.round(Double(wasteTotal[index]) / 1e6),
                perHandlerMicroseconds: waste[index].summary
            )
        }
        return StormReport(
            callsByKind: callsByKind,
            outcomesByKind: outcomesByKind,
            diedBeforeHandlerByKind: diedBeforeHandler,
            cancelToHandlerTask: cancelTask.latencies,
            cancelToHandlerObserved: cancelObserved.latencies,
            deadlineToHandlerTask: deadlineTask.latencies,
            deadlineToHandlerObserved: deadlineObserved.latencies,
            burstCancelToHandlerTask: burstTask.summary,
            disconnectToHandlerTask: disconnectTask.summary,
            wastedWork: WastedWork(
                totalMilliseconds: LatencySummary.round(Double(wasteTotal.reduce(0, +)) / 1e6),
                beyondFirstHopMilliseconds: LatencySummary.round(Double(wasteTotal.dropFirst().reduce(0, +)) / 1e6),
                byHop: byHop,
                byKind: Dictionary(
                    uniqueKeysWithValues: kindWaste.map { kind, waste in
                        (
                            kind.rawValue,
                            KindWaste(
                                handlers: waste.handlers,
                                totalMilliseconds: LatencySummary.round(Double(waste.total) / 1e6),
                                perHandlerMicroseconds: waste.histogram.summary
                            )
                        )
                    }
                )
            )
        )
    }
}
