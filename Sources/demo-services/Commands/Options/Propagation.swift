import ArgumentParser

/// Whether services propagate deadlines and cancellation, as written on the command line.
enum Propagation: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Outbound calls inherit the deadline and are cancelled with the handler (DeadlineRPC's default).
    case on
    /// The article's bug, reproduced: outbound calls ignore the call being served.
    case off
}
