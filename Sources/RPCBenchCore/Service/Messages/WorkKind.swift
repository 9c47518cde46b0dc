/// How a bench handler spends its service time.
public enum WorkKind: UInt8, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// CPU work in slices of the work unit (about 100 µs), checking `Task.isCancelled` and yielding between slices.
    case spin = 0
    /// Waits (a cancellable sleep) without using the CPU; cancellation wakes it at once.
    case park = 1

    /// `spin` or `park`.
    public var description: String {
        switch self {
        case .spin: return "spin"
        case .park: return "park"
        }
    }
}
