/// A ``RetryBudget`` parameter out of range, with the reason.
public struct RetryBudgetError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which parameter is wrong and what it must be.
    public var reason: String

    /// "Invalid retry budget: REASON".
    public var description: String { "Invalid retry budget: \(self.reason)" }
}
