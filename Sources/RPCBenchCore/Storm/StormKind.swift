/// The kinds of storm call, as reported.
public enum StormKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// One hop; the calling task is cancelled after a delay.
    case cancel
    /// One hop; the budget (`CallOptions(timeout:)`) is far shorter than the handler needs.
    case deadline
    /// One hop; thousands of calls started together and cancelled at once.
    case burst
    /// One hop; a client of their own is closed mid-call.
    case disconnect
    /// Through the whole chain; the calling task is cancelled after a delay.
    case chainCancel = "chain-cancel"
    /// Through the whole chain; a short budget.
    case chainDeadline = "chain-deadline"
}
