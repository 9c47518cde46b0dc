import Foundation

/// An alert rule from `docs/alerts/deadlinerpc.rules.yml`, with an evaluator for the rule shape that compares a
/// summed instant metric to a threshold: `sum by (LABELS) (METRIC) > N`. (`rate(...)` rules need a time series,
/// which a single scrape is not; tests check their metric names instead.)
struct AlertRule {
    /// The alert's name.
    var name: String
    /// Its PromQL expression.
    var expression: String

    /// The metric names the expression reads: identifiers between `(` and `)` or `[` once the `by (…)` label
    /// lists are removed (functions such as `rate` are followed by `(`, so they do not match).
    var metricNames: [String] {
        let withoutGrouping = self.expression.replacingOccurrences(of: #"by \([^)]*\)"#, with: "", options: .regularExpression)
        let pattern = try! NSRegularExpression(pattern: #"\(\s*([a-z_][a-z0-9_]*)\s*(\)|\[)"#)
        let text = withoutGrouping as NSString
        return pattern.matches(in: withoutGrouping, range: NSRange(location: 0, length: text.length)).map {
            text.substring(with: $0.range(at: 1))
        }
    }

    /// Every rule of the rules file at `url` (a line-based read of `- alert:` and `expr:`).
    static func load(_ url: URL) throws -> [AlertRule] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var rules: [AlertRule] = []
        var name: String? = nil
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("- alert:") {
                name = trimmed.dropFirst("- alert:".count).trimmingCharacters(in: .whitespaces)
            } else if trimmed.hasPrefix("expr:"), let current = name {
                rules.append(AlertRule(name: current, expression: trimmed.dropFirst("expr:".count).trimmingCharacters(in: .whitespaces)))
                name = nil
            }
        }
        return rules
    }

    /// The rule's threshold form, if it is `sum by (…) (METRIC) > N`: the metric and N.
    var instantThreshold: (metric: String, threshold: Double)? {
        let pattern = try! NSRegularExpression(pattern: #"^sum by \([a-z_, ]+\) \(([a-z_][a-z0-9_]*)\) > ([0-9.]+)$"#)
        let text = self.expression as NSString
        guard let match = pattern.firstMatch(in: self.expression, range: NSRange(location: 0, length: text.length)),
            let threshold = Double(text.substring(with: match.range(at: 2)))
        else { return nil }
        return (text.substring(with: match.range(at: 1)), threshold)
    }

    /// Whether the rule's condition holds for one instance's scrape (`sum by (instance)` over one instance is
    /// the sum of its samples). Nil when the rule is not of the instant threshold form or the metric is absent.
    func fires(on scrape: PrometheusScrape) -> Bool? {
        guard let (metric, threshold) = self.instantThreshold, let value = scrape.sum(metric) else { return nil }
        return value > threshold
    }
}
