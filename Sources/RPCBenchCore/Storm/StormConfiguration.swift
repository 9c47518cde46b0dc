/// What the storm does; every kind has its own switch and all are on by default.
public struct StormConfiguration: Sendable, Hashable {
    /// Calls cancelled mid-flight.
    public var cancel = true
    /// Cancelled calls per second.
    public var cancelRate: Double = 50
    /// How long after the call starts its task is cancelled.
    public var cancelAfter: Duration = .milliseconds(2)

    /// Calls whose budget is far shorter than the handler needs.
    public var deadline = true
    /// Short-budget calls per second.
    public var deadlineRate: Double = 50
    /// Their budget.
    public var deadlineBudget: Duration = .milliseconds(2)

    /// Bursts of calls cancelled at once.
    public var burst = true
    /// Calls per burst.
    public var burstSize = 1_000
    /// Time between bursts.
    public var burstInterval: Duration = .seconds(2)
    /// Over how long a burst's calls are started (evenly; 0 starts them all at once). The cancels still come all
    /// at once: the ramp keeps a thousand call starts from being measured as a thousand cancels.
    public var burstRamp: Duration = .milliseconds(200)
    /// How long after the burst's last call started all of it is cancelled.
    public var burstCancelAfter: Duration = .milliseconds(20)

    /// Clients that disconnect abruptly mid-call.
    public var disconnect = true
    /// Time between disconnecting clients.
    public var disconnectInterval: Duration = .milliseconds(500)
    /// Calls each disconnecting client has open when it closes.
    public var disconnectCalls = 20
    /// How long after its calls start the client is closed.
    public var disconnectAfter: Duration = .milliseconds(20)

    /// Calls through the whole chain (needs 2 hops or more), alternately cancelled and given a short budget.
    public var chain = true
    /// Chain calls per second.
    public var chainRate: Double = 10
    /// Delay before a chain call is cancelled.
    public var chainCancelAfter: Duration = .milliseconds(2)
    /// Budget of a short-budget chain call.
    public var chainBudget: Duration = .milliseconds(2)

    /// The work a storm handler needs to finish (much longer than any cancel delay or budget).
    public var work: Duration = .milliseconds(50)
    /// How cancel, deadline and chain handlers spend it. Burst and disconnect handlers always park, for their
    /// ramp or delay plus this work (a thousand spinning handlers would measure CPU scheduling, not the runtime).
    public var workKind: WorkKind = .spin
    /// The cooperative work slice.
    public var workUnit: Duration = .microseconds(100)

    /// The defaults.
    public init() {}

    /// Whether any kind is on.
    public var isEnabled: Bool { self.cancel || self.deadline || self.burst || self.disconnect || self.chain }
}
