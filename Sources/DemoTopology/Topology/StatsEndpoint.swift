/// Where one replica of a service answers `/stats`, which replica it is, and how far its host's monotonic clock
/// reads ahead of the scenario runner's — so the runner puts every host's records on one timeline.
package struct StatsEndpoint: Sendable, Hashable {
    /// Its HTTP endpoint.
    package var address: ServiceAddress
    /// Which replica (1-based).
    package var replica: Int
    /// How many replicas the service was started with (1: the tables name no replica).
    package var replicas: Int
    /// How far the host's monotonic clock is ahead of the runner's (zero on the same host, days in a time
    /// namespace with an offset).
    package var clockOffset: Duration

    /// Creates the endpoint of replica `replica` of `replicas`.
    package init(address: ServiceAddress, replica: Int = 1, of replicas: Int = 1, clockOffset: Duration = .zero) {
        self.address = address
        self.replica = replica
        self.replicas = replicas
        self.clockOffset = clockOffset
    }

    /// The offset in nanoseconds, to subtract from the host's clock readings.
    package var offsetNanoseconds: Int64 {
        self.clockOffset.components.seconds * 1_000_000_000 + self.clockOffset.components.attoseconds / 1_000_000_000
    }
}
