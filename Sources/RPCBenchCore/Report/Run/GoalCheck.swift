/// One goal from the project's anchors, checked.
public struct GoalCheck: Sendable, Codable, Hashable {
    /// What is measured.
    public var name: String
    /// The target, in words.
    public var target: String
    /// The figure this run measured.
    public var measured: String
    /// Whether the target was met.
    public var met: Bool

    /// Creates a value with every field given.
    public init(
        name: String,
        target: String,
        measured: String,
        met: Bool
    ) {
        self.name = name
        self.target = target
        self.measured = measured
        self.met = met
    }
}
