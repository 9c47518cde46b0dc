import Foundation

/// An alert rule from `docs/alerts/deadlinerpc.rules.yml`, with evaluators for its two rule shapes: a summed
/// instant metric compared to a threshold, `sum by (LABELS) (METRIC) > N`, read from one scrape; and a summed
/// counter rate, `sum by (LABELS) (rate(METRIC[RANGE])) > N`, read from two scrapes of the same instance.
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

    /// The rule's rate form, if it is `sum by (LABELS) (rate(METRIC[RANGE])) > N`: the grouping labels, the metric
    /// and N (per second). The range is not returned: the two scrapes handed to ``firingGroups(from:to:seconds:)``
    /// stand for the first and last samples of the window.
    var rateThreshold: (groupBy: [String], metric: String, threshold: Double)? {
        let pattern = try! NSRegularExpression(
            pattern: #"^sum by \(([a-z_, ]+)\) \(rate\(([a-z_][a-z0-9_]*)\[[0-9]+[smh]\]\)\) > ([0-9.]+)$"#
        )
        let text = self.expression as NSString
        guard let match = pattern.firstMatch(in: self.expression, range: NSRange(location: 0, length: text.length)),
            let threshold = Double(text.substring(with: match.range(at: 3)))
        else { return nil }
        let groupBy = text.substring(with: match.range(at: 1)).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return (groupBy, text.substring(with: match.range(at: 2)), threshold)
    }

    /// The groups (label values of the rule's `by (…)` labels, `instance` excepted: both scrapes are of one
    /// instance) for which the rate rule's condition holds between two scrapes `seconds` apart, with each group's
    /// rate. A series' rate is its increase between the scrapes (its later value if it fell: a counter reset, as
    /// Prometheus reads it) over `seconds`; a series missing from either scrape has no rate, as in Prometheus,
    /// where `rate` needs two samples. Prometheus' extrapolation to the window's edges is left out: the scrapes
    /// stand for the whole window. Nil when the rule is not of the rate form.
    func firingGroups(from earlier: PrometheusScrape, to later: PrometheusScrape, seconds: Double) -> [[String: String]: Double]? {
        guard let (groupBy, metric, threshold) = self.rateThreshold, seconds > 0 else { return nil }
        let keys = groupBy.filter { $0 != "instance" }
        var rates: [[String: String]: Double] = [:]
        for sample in later.samples(metric) {
            guard let before = earlier.samples(metric).first(where: { $0.labels == sample.labels }) else { continue }
            let increase = sample.value >= before.value ? sample.value - before.value : sample.value
            let group = Dictionary(uniqueKeysWithValues: keys.map { ($0, sample.labels[$0] ?? "") })
            rates[group, default: 0] += increase / seconds
        }
        return rates.filter { $0.value > threshold }
    }
}
