/// The receiver's ping policy (`docs/PROTOCOL.md` §13.5): a `PING` less than `minimumInterval` after the
/// previous one is a strike, one arriving later clears the strikes; one strike more than `toleratedStrikes` is a
/// ping flood. A pure value: the caller passes the time in.
struct PingPolicy: Sendable, Hashable {
    /// The shortest allowed gap between two pings, in nanoseconds.
    let minimumInterval: Int64
    /// Early pings in a row that are forgiven; the next one ends the connection.
    let toleratedStrikes: Int
    /// When the previous ping arrived (uptime nanoseconds), nil before the first.
    private var lastPing: Int64?
    /// Early pings in a row so far.
    private(set) var strikes = 0

    /// A policy with no ping seen yet.
    init(minimumInterval: Int64, toleratedStrikes: Int) {
        self.minimumInterval = max(minimumInterval, 0)
        self.toleratedStrikes = max(toleratedStrikes, 0)
    }

    /// Records a ping at `now`; returns false when it is one strike too many.
    mutating func receivedPing(now: Int64) -> Bool {
        defer { self.lastPing = now }
        guard let last = self.lastPing, now - last < self.minimumInterval else {
            self.strikes = 0
            return true
        }
        self.strikes += 1
        return self.strikes <= self.toleratedStrikes
    }
}
