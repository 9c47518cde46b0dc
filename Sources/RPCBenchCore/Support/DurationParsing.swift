/// Parses durations written the way people write them on a command line: `250us`, `2ms`, `1.5s`, `100µs`,
/// `500ns`, `1m`; a bare number is seconds.
public enum DurationParsing {
    /// The duration `text` denotes, or nil when it is not one (negative durations are rejected).
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces
        let units: [(suffix: String, nanoseconds: Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9),
        ]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = String(trimmed.dropLast(unit.suffix.count))
            // "ms" also ends with "s": only accept a number before the suffix.
            guard let value = Double(number), value >= 0, value.isFinite else { continue }
            return .nanoseconds(Int64((value * unit.nanoseconds).rounded()))
        }
        if let seconds = Double(trimmed), seconds >= 0, seconds.isFinite {
            return .nanoseconds(Int64((seconds * 1e9).rounded()))
        }
        return nil
    }

    /// A short rendering: `2ms`, `100us`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        let nanoseconds = duration.benchNanoseconds
        if nanoseconds == 0 { return "0" }
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds >= 1_000_000_000 { return "\(ReportBuilder.format(Double(nanoseconds) / 1e9))s" }
        if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        if nanoseconds >= 1_000_000 { return "\(ReportBuilder.format(Double(nanoseconds) / 1e6))ms" }
        if nanoseconds % 1_000 == 0 { return "\(nanoseconds / 1_000)us" }
        return "\(nanoseconds)ns"
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
