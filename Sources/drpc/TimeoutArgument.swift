import ArgumentParser

/// A `--timeout` value: a number and a unit (`250ms`, `1.5s`, `500us`, `2m`).
struct TimeoutArgument: ExpressibleByArgument, Sendable {
    /// The duration.
    let duration: Duration

    init?(argument: String) {
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9)]
        for (unit, nanosecondsPerUnit) in units where argument.hasSuffix(unit) {
            guard let value = Double(argument.dropLast(unit.count)), value.isFinite, value > 0 else { return nil }
            let nanoseconds = value * nanosecondsPerUnit
            guard nanoseconds < 1e18 else { return nil }  // Beyond ~31 years: not a timeout anyone means.
            self.duration = .nanoseconds(Int64(nanoseconds.rounded()))
            return
        }
        return nil
    }
}
