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
