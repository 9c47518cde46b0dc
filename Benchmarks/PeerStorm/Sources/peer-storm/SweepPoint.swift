import RPCBenchCore

/// One rate of a cancel-rate sweep: what the victims' shared grpc-swift-2 connection went through.
struct SweepPoint: Codable, Sendable {
    /// Cancelled calls per second on the shared connection.
    var cancelRate: Double
    /// How long the cancels and victims ran, s.
    var seconds: Double
    /// Cancelled calls sent.
    var cancels: Int
    /// Of those, calls whose handler had started before the cancel (so the cancel reset a stream the server had).
    var cancelsReachingServer: Int
    /// Victim calls that succeeded.
    var victimsOK: Int
    /// Victim calls that failed, by status code.
    var victimErrorsByCode: [String: Int]
    /// Times the shared connection closed during the run.
    var connectionsLost: Int
    /// When it first closed, seconds after the first cancel (nil: never).
    var firstLossAfterSeconds: Double?
    /// Cancels sent before it first closed (nil: never closed).
    var cancelsBeforeFirstLoss: Int?

    /// Victim calls that failed.
    var victimErrors: Int { self.victimErrorsByCode.values.reduce(0, +) }

    /// The row of the sweep's table.
    var cells: [String] {
        let errors = self.victimErrors == 0
            ? "0"
            : "\(self.victimErrors) (" + self.victimErrorsByCode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        return [
            ReportBuilder.format(self.cancelRate),
            ReportBuilder.format(self.seconds),
            "\(self.cancels)",
            "\(self.cancelsReachingServer)",
            "\(self.victimsOK)",
            errors,
            "\(self.connectionsLost)",
            self.firstLossAfterSeconds.map { ReportBuilder.format($0) } ?? "never",
            self.cancelsBeforeFirstLoss.map(String.init) ?? "–",
        ]
    }

    /// The table's header.
    static let header = [
        "cancels/s", "seconds", "cancels", "reached the handler", "victims ok", "victim errors", "connections lost", "first loss after s",
        "cancels before first loss",
    ]
}
