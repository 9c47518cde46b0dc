/// One histogram per hop, plus the handlers that never saw the death.
struct HopHistograms {
    /// One histogram per hop.
    var histograms: [LatencyHistogram]
    /// Per hop, handlers that outlived the death without learning of it.
    var never: [Int]
    /// Per hop, handlers that stopped after the death without that instant being recorded (see
    /// ``HopLatencies/stoppedUnmeasuredByHop``).
    var stoppedUnmeasured: [Int]

    /// Empty histograms for `hops` hops.
    init(hops: Int) {
        self.histograms = (0..<hops).map { _ in LatencyHistogram() }
        self.never = Array(repeating: 0, count: hops)
        self.stoppedUnmeasured = Array(repeating: 0, count: hops)
    }

    /// Records `instant - dead`. When `instant` is 0 and the handler ended after the death, it either ran its work
    /// to the end (it never learned: the leak) or stopped short of it some other way — at a forwarding hop, its
    /// own outbound call failed at the same deadline before this hop's deadline timer cancelled its task.
    mutating func record(_ hopIndex: Int, _ instant: Int64, after dead: Int64, _ handler: HandlerRecord) {
        if instant > 0 {
            self.histograms[hopIndex].record(nanoseconds: instant - dead)
        } else if handler.endedAt > dead {
            if handler.completed {
                self.never[hopIndex] += 1
            } else {
                self.stoppedUnmeasured[hopIndex] += 1
            }
        }
    }

    /// The report's form: first hop, last hop, every hop, curves.
    var latencies: HopLatencies {
        let first = self.histograms[0]
        let last = self.histograms[self.histograms.count - 1]
        return HopLatencies(
            firstHop: first.summary,
            lastHop: last.summary,
            byHop: self.histograms.map(\.summary),
            neverCancelledByHop: self.never,
            stoppedUnmeasuredByHop: self.stoppedUnmeasured,
            firstHopCurve: first.percentileCurve,
            lastHopCurve: last.percentileCurve
        )
    }
}
