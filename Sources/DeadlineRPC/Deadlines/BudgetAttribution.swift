/// Where a call chain's budget went, as seen from one hop: the original budget and the hop count travel with every
/// call, so each hop can say how much the hops above it consumed and how much it used itself.
///
/// ```swift
/// router.unary(lookup) { request, context in
///     if let budget = context.budget, budget.consumedBeforeArrival > budget.originalBudget / 2 {
///         context.logger.warning("Half the budget was gone before we started: \(budget)")
///     }
///     ...
/// }
/// ```
public struct BudgetAttribution: Sendable, Hashable, CustomStringConvertible {
    /// The hop's depth in the chain (0 for a call made by a root caller).
    public let hop: Int
    /// The budget the chain's first caller set.
    public let originalBudget: Duration
    /// What was left when the call arrived here (after any inbound cap).
    public let remainingOnArrival: Duration
    /// Time this hop has spent on the call so far (from arrival to when the attribution was read).
    public let usedHere: Duration

    /// Budget spent above this hop: the callers' own work plus every network transit, queue and retry on the way.
    public var consumedBeforeArrival: Duration { max(.zero, self.originalBudget - self.remainingOnArrival) }

    /// The fraction of the original budget gone before the call arrived here (0...1).
    public var fractionConsumedBeforeArrival: Double {
        let original = Double(self.originalBudget.nanoseconds)
        guard original > 0 else { return 0 }
        return min(1, Double(self.consumedBeforeArrival.nanoseconds) / original)
    }

    /// Creates an attribution (for tests and custom reporting).
    public init(hop: Int, originalBudget: Duration, remainingOnArrival: Duration, usedHere: Duration) {
        self.hop = hop
        self.originalBudget = originalBudget
        self.remainingOnArrival = remainingOnArrival
        self.usedHere = usedHere
    }

    /// `hop 2: 500ms budget, 120ms used upstream, 380ms left on arrival, 15ms used here`.
    public var description: String {
        "hop \(self.hop): \(Self.format(self.originalBudget)) budget, \(Self.format(self.consumedBeforeArrival)) used upstream, \(Self.format(self.remainingOnArrival)) left on arrival, \(Self.format(self.usedHere)) used here"
    }

    static func format(_ duration: Duration) -> String {
        let micros = duration.nanoseconds / 1000
        if abs(micros) >= 10_000 { return "\(micros / 1000)ms" }
        return "\(micros)µs"
    }
}
