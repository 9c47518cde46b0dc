/// The storm's settings in the report.
public struct StormSettings: Sendable, Codable, Hashable {
    /// Cancelled calls on.
    public var cancel: Bool
    /// Per second.
    public var cancelRate: Double
    /// Delay before the cancel, µs.
    public var cancelAfterMicroseconds: Double
    /// Short-budget calls on.
    public var deadline: Bool
    /// Per second.
    public var deadlineRate: Double
    /// Budget, µs.
    public var deadlineBudgetMicroseconds: Double
    /// Bursts on.
    public var burst: Bool
    /// Calls per burst.
    public var burstSize: Int
    /// Between bursts, ms.
    public var burstIntervalMilliseconds: Double
    /// Over how long a burst's calls are started, ms.
    public var burstRampMilliseconds: Double
    /// Delay after a burst's last start before it is cancelled, µs.
    public var burstCancelAfterMicroseconds: Double
    /// Disconnecting clients on.
    public var disconnect: Bool
    /// Between disconnects, ms.
    public var disconnectIntervalMilliseconds: Double
    /// Calls open per disconnecting client.
    public var disconnectCalls: Int
    /// Delay before the close, µs.
    public var disconnectAfterMicroseconds: Double
    /// Chain calls on (needs 2+ hops).
    public var chain: Bool
    /// Per second.
    public var chainRate: Double
    /// Delay before a chain cancel, µs.
    public var chainCancelAfterMicroseconds: Double
    /// Budget of a short-budget chain call, µs.
    public var chainBudgetMicroseconds: Double
    /// The work a storm handler needs, µs.
    public var workMicroseconds: Double
    /// `spin` or `park` (cancel, deadline and chain handlers).
    public var workKind: String
    /// Cooperative work slice, µs.
    public var workUnitMicroseconds: Double

    /// The settings of `configuration`.
    public init(_ configuration: StormConfiguration) {
        self.cancel = configuration.cancel
        self.cancelRate = configuration.cancelRate
        self.cancelAfterMicroseconds = configuration.cancelAfter.benchMicroseconds
        self.deadline = configuration.deadline
        self.deadlineRate = configuration.deadlineRate
        self.deadlineBudgetMicroseconds = configuration.deadlineBudget.benchMicroseconds
        self.burst = configuration.burst
        self.burstSize = configuration.burstSize
        self.burstIntervalMilliseconds = configuration.burstInterval.benchMicroseconds / 1_000
        self.burstRampMilliseconds = configuration.burstRamp.benchMicroseconds / 1_000
        self.burstCancelAfterMicroseconds = configuration.burstCancelAfter.benchMicroseconds
        self.disconnect = configuration.disconnect
        self.disconnectIntervalMilliseconds = configuration.disconnectInterval.benchMicroseconds / 1_000
        self.disconnectCalls = configuration.disconnectCalls
        self.disconnectAfterMicroseconds = configuration.disconnectAfter.benchMicroseconds
        self.chain = configuration.chain
        self.chainRate = configuration.chainRate
        self.chainCancelAfterMicroseconds = configuration.chainCancelAfter.benchMicroseconds
        self.chainBudgetMicroseconds = configuration.chainBudget.benchMicroseconds
        self.workMicroseconds = configuration.work.benchMicroseconds
        self.workKind = configuration.workKind.description
        self.workUnitMicroseconds = configuration.workUnit.benchMicroseconds
    }
}
