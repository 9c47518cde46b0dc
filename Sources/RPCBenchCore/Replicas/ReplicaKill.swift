/// One replica killed (SIGKILL) and started again on its port during the `kills` phase.
public struct ReplicaKill: Sendable, Codable, Hashable {
    /// The replica (0-based; round robin over the replicas).
    public var replica: Int
    /// Its port.
    public var port: Int
    /// When it was killed, seconds after the phase started.
    public var atSeconds: Double
    /// From the kill until the new process listened on the port again, ms (the down time plus its start).
    public var downMilliseconds: Double

    /// Creates a value with every field given.
    public init(replica: Int, port: Int, atSeconds: Double, downMilliseconds: Double) {
        self.replica = replica
        self.port = port
        self.atSeconds = atSeconds
        self.downMilliseconds = downMilliseconds
    }
}
