/// Where the bench sends its calls, and how it reads the servers' side: counters, memory, handler records.
public protocol BenchTarget: Sendable {
    /// The first hop's host.
    var host: String { get }
    /// The first hop's port.
    var port: Int { get }
    /// `embedded` or `host:port`.
    var label: String { get }
    /// Every hop's counters and the serving process's memory (trimmed first when `trimMemory`).
    func snapshot(trimMemory: Bool) async throws -> TopologySnapshot
    /// Every hop's handler records since the last drain.
    func drainRecords() async throws -> [HandlerRecord]
    /// How often the bench polls ``snapshot(trimMemory:)`` while waiting for handlers to return.
    var settlePollInterval: Duration { get }
}

extension BenchTarget {
    /// 2 ms: one stats call per poll.
    public var settlePollInterval: Duration { .milliseconds(2) }

    /// Every hop's counters and the serving process's memory, untrimmed (cheap enough to poll).
    public func snapshot() async throws -> TopologySnapshot {
        try await self.snapshot(trimMemory: false)
    }
}
