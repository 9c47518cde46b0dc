/// The storm of one phase.
public struct StormReport: Sendable, Codable {
    /// Storm calls by kind.
    public var callsByKind: [String: Int]
    /// Storm calls by kind and the status code the client saw.
    public var outcomesByKind: [String: [String: Int]]
    /// Storm calls whose first-hop handler had not started when the call died (cancelled while queued or in
    /// transit, shed, or refused), by kind.
    public var diedBeforeHandlerByKind: [String: Int]
    /// Client cancel → handler task cancelled (`cancel` and `chain-cancel`).
    public var cancelToHandlerTask: HopLatencies
    /// Client cancel → handler code noticed (work loop or forwarded call returned).
    public var cancelToHandlerObserved: HopLatencies
    /// Deadline instant → handler task cancelled (`deadline` and `chain-deadline`).
    public var deadlineToHandlerTask: HopLatencies
    /// Deadline instant → handler code noticed.
    public var deadlineToHandlerObserved: HopLatencies
    /// Burst cancel → handler task cancelled, µs.
    public var burstCancelToHandlerTask: LatencySummary
    /// Client close → handler task cancelled, µs.
    public var disconnectToHandlerTask: LatencySummary
    /// Handler time after the call was dead.
    public var wastedWork: WastedWork

    /// An empty report (a phase without storm).
    public static func empty(hops: Int) -> StormReport {
        StormReport(
            callsByKind: [:],
            outcomesByKind: [:],
            diedBeforeHandlerByKind: [:],
            cancelToHandlerTask: .empty(hops: hops),
            cancelToHandlerObserved: .empty(hops: hops),
            deadlineToHandlerTask: .empty(hops: hops),
            deadlineToHandlerObserved: .empty(hops: hops),
            burstCancelToHandlerTask: LatencySummary(),
            disconnectToHandlerTask: LatencySummary(),
            wastedWork: .empty(hops: hops)
        )
    }

    /// Storm calls in all.
    public var totalCalls: Int { self.callsByKind.values.reduce(0, +) }

    /// Creates a value with every field given.
    public init(
        callsByKind: [String: Int],
        outcomesByKind: [String: [String: Int]],
        diedBeforeHandlerByKind: [String: Int],
        cancelToHandlerTask: HopLatencies,
        cancelToHandlerObserved: HopLatencies,
        deadlineToHandlerTask: HopLatencies,
        deadlineToHandlerObserved: HopLatencies,
        burstCancelToHandlerTask: LatencySummary,
        disconnectToHandlerTask: LatencySummary,
        wastedWork: WastedWork
    ) {
        self.callsByKind = callsByKind
        self.outcomesByKind = outcomesByKind
        self.diedBeforeHandlerByKind = diedBeforeHandlerByKind
        self.cancelToHandlerTask = cancelToHandlerTask
        self.cancelToHandlerObserved = cancelToHandlerObserved
        self.deadlineToHandlerTask = deadlineToHandlerTask
        self.deadlineToHandlerObserved = deadlineToHandlerObserved
        self.burstCancelToHandlerTask = burstCancelToHandlerTask
        self.disconnectToHandlerTask = disconnectToHandlerTask
        self.wastedWork = wastedWork
    }
}
