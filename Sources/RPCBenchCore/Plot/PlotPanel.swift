/// One chart: latency (log scale) against percentile (log scale of 1 / (1 − p), the HdrHistogram layout).
public struct PlotPanel: Sendable, Hashable {
    /// The chart's title.
    public var title: String
    /// Its lines.
    public var series: [PlotSeries]

    /// Creates a panel.
    public init(title: String, series: [PlotSeries]) {
        self.title = title
        self.series = series
    }
}
