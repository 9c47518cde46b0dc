/// The balancing policy's choice among eligible endpoints, as a pure value: which ones are eligible is the
/// caller's question (asked through `eligible`), so the same choice serves the layered filters (ready, not ejected,
/// not tried by an earlier attempt, fast enough for the budget) without building arrays on the hot path.
struct Picker {
    /// The policy.
    let policy: LoadBalancingPolicy
    /// Where round robin goes next.
    private var next = 0

    /// A picker for `policy`.
    init(policy: LoadBalancingPolicy) {
        self.policy = policy
    }

    /// Picks one of the indices `0..<count` for which `eligible` holds; `load` is an index's calls in flight and
    /// `random(n)` a uniform integer in `0..<n`. Nil when none is eligible.
    mutating func pick(
        count: Int,
        eligible: (Int) -> Bool,
        load: (Int) -> Int,
        random: (Int) -> Int
    ) -> Int? {
        switch self.policy {
        case .pickFirst:
            return (0..<count).first(where: eligible)
        case .roundRobin:
            for step in 0..<count {
                let index = (self.next + step) % count
                if eligible(index) {
                    self.next = (index + 1) % count
                    return index
                }
            }
            return nil
        case .leastLoaded:
            let eligibleCount = (0..<count).reduce(0) { $0 + (eligible($1) ? 1 : 0) }
            guard eligibleCount > 0 else { return nil }
            guard eligibleCount > 1 else { return (0..<count).first(where: eligible) }
            // Two distinct eligible ones at random; the less loaded wins (the first drawn on a tie, itself random).
            let first = random(eligibleCount)
            var second = random(eligibleCount - 1)
            if second >= first { second += 1 }
            var a = -1
            var b = -1
            var rank = 0
            for index in 0..<count where eligible(index) {
                if rank == first { a = index }
                if rank == second { b = index }
                rank += 1
            }
            return load(b) < load(a) ? b : a
        }
    }
}
