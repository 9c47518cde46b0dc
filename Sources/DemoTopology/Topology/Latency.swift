/// A service's simulated work time — a fixed part plus uniform jitter — so the demo's hops take as long as real
/// services do and the printed numbers mean something.
package struct Latency: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The part every call pays.
    package var fixed: Duration
    /// The upper bound of a uniformly random extra.
    package var jitter: Duration

    /// Creates a latency of `fixed` plus up to `jitter`.
    package init(fixed: Duration, jitter: Duration = .zero) {
        self.fixed = fixed
        self.jitter = jitter
    }

    /// Milliseconds as written on the command line: `800` or `800:50` (fixed:jitter).
    package init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let fixed = Int(parts[0]), fixed >= 0 else { return nil }
        var jitter = 0
        if parts.count == 2 {
            guard let value = Int(parts[1]), value >= 0 else { return nil }
            jitter = value
        }
        self.init(fixed: .milliseconds(fixed), jitter: .milliseconds(jitter))
    }

    /// One draw: the fixed part plus a random share of the jitter.
    package func sample() -> Duration {
        let spread = self.jitter.wholeMilliseconds
        guard spread > 0 else { return self.fixed }
        return self.fixed + .microseconds(Int64.random(in: 0...(spread * 1_000)))
    }

    /// The command-line form (`800:50`), which ``init(parsing:)`` reads back.
    package var argument: String {
        self.jitter == .zero ? "\(self.fixed.wholeMilliseconds)" : "\(self.fixed.wholeMilliseconds):\(self.jitter.wholeMilliseconds)"
    }

    /// `800 ms ± 50 ms`.
    package var description: String {
        self.jitter == .zero ? "\(self.fixed.wholeMilliseconds) ms" : "\(self.fixed.wholeMilliseconds) ms + up to \(self.jitter.wholeMilliseconds) ms"
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded toward zero).
    package var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
