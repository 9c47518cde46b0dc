/// A parsed Prometheus text exposition: every sample with its name, labels and value, so tests can read a
/// service's `/metrics` the way Prometheus does.
struct PrometheusScrape {
    /// One sample line.
    struct Sample: Equatable {
        /// The metric name.
        var name: String
        /// The labels.
        var labels: [String: String]
        /// The value.
        var value: Double
    }

    /// Every sample, in order.
    var samples: [Sample]

    /// Parses the text format (comments skipped; label values may not contain `,` or `}` — the demo's don't).
    init(_ text: String) {
        var samples: [Sample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var name = String(series)
            var labels: [String: String] = [:]
            if let open = series.firstIndex(of: "{"), let close = series.lastIndex(of: "}") {
                name = String(series[..<open])
                for pair in series[series.index(after: open)..<close].split(separator: ",") {
                    let keyValue = pair.split(separator: "=", maxSplits: 1)
                    guard keyValue.count == 2 else { continue }
                    labels[String(keyValue[0])] = keyValue[1].trimmingCharacters(in: ["\""])
                }
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        self.samples = samples
    }

    /// The samples of `name` whose labels include `labels`.
    func samples(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        self.samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }
    }

    /// The sum of the samples of `name` whose labels include `labels`, or nil when there is none.
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = self.samples(name, labels)
        return matching.isEmpty ? nil : matching.map(\.value).reduce(0, +)
    }
}
