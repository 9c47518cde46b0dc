import DeadlineRPC
import Synchronization

/// The servers of one process's chain, for the stats and records methods and for an embedded bench run.
public final class TopologyRegistry: Sendable {
    private struct Hop: Sendable {
        let hop: Int
        let port: Int
        let server: RPCServer
        let service: BenchService
    }
    private let hops = Mutex<[Hop]>([])

    /// Creates an empty registry.
    public init() {}

    /// Adds a running server.
    func register(hop: Int, port: Int, server: RPCServer, service: BenchService) {
        self.hops.withLock { hops in
            hops.append(Hop(hop: hop, port: port, server: server, service: service))
            hops.sort { $0.hop < $1.hop }
        }
    }

    /// The number of hops.
    public var hopCount: Int { self.hops.withLock { $0.count } }

    /// The port of the first hop (the one clients call).
    public var entryPort: Int { self.hops.withLock { $0.first?.port ?? 0 } }

    /// Every hop's counters and this process's memory (after `malloc_trim` when `trimMemory`). The handler
    /// serving the stats call itself, at `servingHop`, is not counted as in flight.
    public func snapshot(servingHop: Int? = nil, trimMemory: Bool = false) -> TopologySnapshot {
        let hops = self.hops.withLock { $0 }
        return TopologySnapshot(
            hops: hops.map {
                HopSnapshot(hop: $0.hop, port: $0.port, stats: $0.server.stats, excludingHandlers: $0.hop == servingHop ? 1 : 0)
            },
            rssBytes: trimMemory ? ProcessMemory.trimmedResidentBytes : ProcessMemory.residentBytes,
            peakRSSBytes: ProcessMemory.peakResidentBytes,
            clockNanoseconds: BenchClock.now()
        )
    }

    /// Every hop's handler records so far; the logs are emptied.
    public func drainRecords() -> [HandlerRecord] {
        let hops = self.hops.withLock { $0 }
        return hops.flatMap { $0.service.log.drain() }
    }

    /// Asks every server to shut down gracefully.
    func shutDown() {
        for hop in self.hops.withLock({ $0 }) { hop.server.beginGracefulShutdown() }
    }

    /// Closes every hop's next-hop clients.
    func closeClients() async {
        for hop in self.hops.withLock({ $0 }) { await hop.service.close() }
    }
}
