/// One line of a percentile plot.
public struct PlotSeries: Sendable, Hashable {
    /// The legend text.
    public var name: String
    /// The distribution.
    public var points: [CurvePoint]
    /// A CSS colour.
    public var color: String
    /// Whether the line is dashed.
    public var dashed: Bool

    /// Creates a series.
    public init(name: String, points: [CurvePoint], color: String, dashed: Bool = false) {
        self.name = name
        self.points = points
        self.color = color
        self.dashed = dashed
    }
}
