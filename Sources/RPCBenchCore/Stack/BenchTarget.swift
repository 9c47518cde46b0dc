import DeadlineRPC

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

/// Servers in this process, read directly.
public struct EmbeddedTarget: BenchTarget {
    /// The servers.
    public let registry: TopologyRegistry
    /// Always `127.0.0.1`.
    public let host: String
    /// Hop 1's port.
    public var port: Int { self.registry.entryPort }
    /// `embedded`.
    public var label: String { "embedded" }

    /// Wraps a running topology.
    public init(registry: TopologyRegistry, host: String = "127.0.0.1") {
        self.registry = registry
        self.host = host
    }

    /// Reads every server's counters directly.
    public func snapshot(trimMemory: Bool) async throws -> TopologySnapshot {
        self.registry.snapshot(trimMemory: trimMemory)
    }

    /// Drains every server's log directly.
    public func drainRecords() async throws -> [HandlerRecord] { self.registry.drainRecords() }
}

/// A `rpcbench serve` process, read over its stats and records methods.
///
/// Latencies that subtract a client instant from a handler instant assume the server runs on this host (one
/// monotonic clock); the report says whether the clocks agreed.
public struct RemoteTarget: BenchTarget {
    /// The server's host.
    public let host: String
    /// The server's port.
    public let port: Int
    /// The client used for stats and records (its own connection, apart from the load).
    public let control: RPCClient
    /// `host:port`.
    public var label: String { "\(self.host):\(self.port)" }

    /// Creates a target; `control` connects on first use.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
        self.control = RPCClient(host: host, port: port)
    }

    /// Calls the stats method.
    public func snapshot(trimMemory: Bool) async throws -> TopologySnapshot {
        try await self.control.unary(
            BenchMethods.stats,
            StatsRequest(trimMemory: trimMemory),
            options: CallOptions(timeout: .seconds(5))
        )
    }

    /// Calls the records method and gathers every batch.
    public func drainRecords() async throws -> [HandlerRecord] {
        try await self.control.serverStreaming(
            BenchMethods.records,
            RecordsRequest(),
            options: CallOptions(timeout: .seconds(30))
        ) { batches in
            var records: [HandlerRecord] = []
            for try await batch in batches { records.append(contentsOf: batch.records) }
            return records
        }
    }

    /// Closes the control client.
    public func close() async {
        await self.control.close()
    }
}
