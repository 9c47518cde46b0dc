import DeadlineRPC

/// What the victims' clients did about failures over one phase: `ClientStats` and `RetryInterceptor.Stats`
/// counters, as differences between the phase's end and start.
public struct ReplicaClientCounters: Sendable, Codable, Hashable {
    /// Calls a server's GOAWAY refused unprocessed that the client sent again by itself.
    public var transparentRetries = 0
    /// Attempts the `RetryInterceptor` sent after a retryable failure.
    public var retries = 0
    /// Retries not made: the retry budget could not pay.
    public var retriesRefusedByBudget = 0
    /// Retries not made: too little of the call's deadline would be left.
    public var retriesRefusedByDeadline = 0
    /// Retryable failures of the policy's last attempt.
    public var retriesRefusedAtMaxAttempts = 0
    /// GOAWAYs received.
    public var goAwaysReceived = 0
    /// Endpoints ejected after consecutive failures.
    public var endpointsEjected = 0
    /// Connections opened (the first ones and every reconnection).
    public var connectionsOpened = 0
    /// Calls failed at once because every endpoint had been slower than their budget.
    public var shedForLatency = 0

    /// All zero.
    public init() {}

    /// The counters of `clients` (summed) and of `retry` now.
    public init(clients: [RPCClient], retry: RetryInterceptor.Stats?) {
        for client in clients {
            self.transparentRetries += client.stats.transparentRetries
            self.goAwaysReceived += client.stats.goAwaysReceived
            self.endpointsEjected += client.stats.endpointsEjected
            self.connectionsOpened += client.stats.connectionsOpened
            self.shedForLatency += client.stats.shedForLatency
        }
        self.retries = retry?.retries ?? 0
        self.retriesRefusedByBudget = retry?.refusedByRetryBudget ?? 0
        self.retriesRefusedByDeadline = retry?.refusedByDeadlineFloor ?? 0
        self.retriesRefusedAtMaxAttempts = retry?.refusedAtMaxAttempts ?? 0
    }

    /// Retries refused for any reason.
    public var retriesRefused: Int {
        self.retriesRefusedByBudget + self.retriesRefusedByDeadline + self.retriesRefusedAtMaxAttempts
    }

    /// `after` − `before`, field by field.
    public static func - (after: Self, before: Self) -> Self {
        var d = Self()
        d.transparentRetries = after.transparentRetries - before.transparentRetries
        d.retries = after.retries - before.retries
        d.retriesRefusedByBudget = after.retriesRefusedByBudget - before.retriesRefusedByBudget
        d.retriesRefusedByDeadline = after.retriesRefusedByDeadline - before.retriesRefusedByDeadline
        d.retriesRefusedAtMaxAttempts = after.retriesRefusedAtMaxAttempts - before.retriesRefusedAtMaxAttempts
        d.goAwaysReceived = after.goAwaysReceived - before.goAwaysReceived
        d.endpointsEjected = after.endpointsEjected - before.endpointsEjected
        d.connectionsOpened = after.connectionsOpened - before.connectionsOpened
        d.shedForLatency = after.shedForLatency - before.shedForLatency
        return d
    }
}
