/// The replicas once the run was over, and the child processes once they were stopped.
public struct ReplicaAfterRun: Sendable, Codable, Hashable {
    /// Handlers still running on every replica together after the drain (must be 0).
    public var handlersInFlight: Int
    /// Whether that reached 0 within the drain timeout.
    public var drained: Bool
    /// Calls each replica's current process started, the bench's own stats calls included (a restarted replica
    /// counts from its restart): how the balancer spread the load.
    public var callsStartedByReplica: [Int]
    /// Child processes started, restarts included.
    public var childrenStarted: Int
    /// Child processes still existing after the run stopped them (must be 0).
    public var childrenLeft: Int

    /// Creates a value with every field given.
    public init(handlersInFlight: Int, drained: Bool, callsStartedByReplica: [Int], childrenStarted: Int, childrenLeft: Int) {
        self.handlersInFlight = handlersInFlight
        self.drained = drained
        self.callsStartedByReplica = callsStartedByReplica
        self.childrenStarted = childrenStarted
        self.childrenLeft = childrenLeft
    }
}
