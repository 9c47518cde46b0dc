/// Makes the connections a storm opens for itself (the disconnect kind: a client of its own, closed mid-call).
public protocol BenchConnector: Sendable {
    /// Runs `body` with a new connection to the first hop, and releases the connection once `body` has returned
    /// (closing it if `body` did not); throws when the connection cannot be set up.
    func withConnection<Result: Sendable>(_ body: (any BenchConnection) async -> Result) async throws -> Result
}
