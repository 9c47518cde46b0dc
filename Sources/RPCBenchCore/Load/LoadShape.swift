/// The shape of the victims' load.
public enum LoadShape: Sendable, Hashable, CustomStringConvertible {
    /// A fixed rate (calls per second), with at most `maxInFlight` calls outstanding; a call that waits for a free
    /// slot is charged for the wait.
    case open(rate: Double, maxInFlight: Int)
    /// `concurrency` callers, each sending its next call when the previous one ends; latency from the send.
    case closed(concurrency: Int)

    /// `open 2000/s` or `closed ×16`.
    public var description: String {
        switch self {
        case .open(let rate, _): return "open loop \(Int(rate))/s"
        case .closed(let concurrency): return "closed loop, \(concurrency) callers"
        }
    }
}
