import NIOCore

/// What a client knows of one endpoint: its connection's lifecycle, the calls it carries, how fast it has been
/// answering and how often it failed — everything the balancer weighs when it picks.
///
/// `@unchecked Sendable` is sound because it is confined to the client's event loop: the manager is its only
/// user, every manager entry point that reaches it runs on that loop (it hops there first), and the closures that
/// capture it (connect completion, timers) are scheduled on that same loop.
final class EndpointConnection: @unchecked Sendable {
    /// Where it is.
    let endpoint: Endpoint
    /// Idle, connecting, ready, backing off, shut down.
    var lifecycle = EndpointLifecycle<ClientConnectionHandler>()
    /// The handler of the attempt under way (nil before its channel exists, and for a test's own connection).
    var attempt: ClientConnectionHandler?
    /// Calls waiting for a free stream on this endpoint's connection (the server's concurrent-stream limit).
    var waitingForStream: [ClientCall] = []
    /// Calls from this client in flight on this endpoint (what least-loaded picking compares).
    var inFlight = 0
    /// How fast its successful calls have been answering.
    var latency = LatencyEstimate()
    /// `unavailable` outcomes and failed attempts in a row.
    var consecutiveFailures = 0
    /// Ejections in a row (the next lasts longer); reset by a success.
    var ejections = 0
    /// Not picked before this instant (passive outlier ejection).
    var ejectedUntil: NIODeadline?
    /// The timer that reconnects it after a backoff or a lost connection.
    var reconnectTimer: Scheduled<Void>?
    /// Whether health checking says it serves (true until a watch says otherwise).
    var serving = true

    /// A new, idle endpoint.
    init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    /// The ready connection, when it takes calls and the endpoint is not ejected at `now`.
    func pickable(now: NIODeadline, ignoringEjection: Bool = false) -> ClientConnectionHandler? {
        guard let connection = self.lifecycle.readyConnection, self.serving else { return nil }
        if !ignoringEjection, let until = self.ejectedUntil, now < until { return nil }
        return connection
    }

    /// Records a call's outcome for outlier ejection: returns the ejection time when this failure ejects it.
    func recordOutcome(unavailable: Bool, now: NIODeadline, policy: OutlierEjection?) -> Duration? {
        guard unavailable else {
            self.consecutiveFailures = 0
            self.ejections = 0
            return nil
        }
        self.consecutiveFailures += 1
        guard let policy, self.consecutiveFailures >= policy.consecutiveFailures else { return nil }
        if let until = self.ejectedUntil, now < until { return nil }  // Already out.
        self.consecutiveFailures = 0
        self.ejections += 1
        let time = policy.ejectionTime(count: self.ejections)
        self.ejectedUntil = now + .nanoseconds(time.nanoseconds)
        return time
    }
}
