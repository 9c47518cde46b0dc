import ArgumentParser

/// Which topologies to run: `on`, `off`, or `both` (side by side).
enum PropagationChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Propagation on only.
    case on
    /// Propagation off only.
    case off
    /// Both, side by side.
    case both

    /// The propagation settings to run, in column order.
    var values: [Propagation] {
        switch self {
        case .on: return [.on]
        case .off: return [.off]
        case .both: return [.on, .off]
        }
    }
}
