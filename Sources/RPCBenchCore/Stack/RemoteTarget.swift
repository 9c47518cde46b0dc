import DeadlineRPC

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
