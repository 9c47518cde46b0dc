import DeadlineRPC
import NIOCore
import Synchronization

/// How the bench's embedded servers (and `rpcbench serve`) are configured.
public struct BenchServerOptions: Sendable, Hashable {
    /// Streams a client may have open on one connection. The bench raises the runtime's default (100) so that a
    /// burst of thousands of calls on the victims' own connection is served rather than queued by the client.
    public var maxConcurrentStreams: Int = 4_096
    /// Where handler tasks run: the global executor, the runtime's default (handlers never run on its I/O loops, so
    /// a storm handler that computes cannot keep its own cancel from being read).
    public var handlerExecutor: RPCServer.HandlerExecutor = .globalConcurrent

    /// The defaults.
    public init() {}

    /// The runtime configuration these options describe.
    public var configuration: RPCServer.Configuration {
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = self.maxConcurrentStreams
        configuration.handlerExecutor = self.handlerExecutor
        return configuration
    }
}

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

/// Runs a chain of `hops` bench servers in this process — hop 1 listens on `host:port`, each hop forwards storm
/// calls to the next — calls `body` with the registry, then shuts every server down and waits for it.
///
/// The servers start from the last hop backwards, so each knows the next one's port.
public func withBenchTopology<Result: Sendable>(
    hops: Int,
    host: String = "127.0.0.1",
    port: Int = 0,
    options: BenchServerOptions = BenchServerOptions(),
    _ body: @Sendable (TopologyRegistry) async throws -> Result
) async throws -> Result {
    precondition(hops >= 1 && hops <= 255, "a chain has 1...255 hops")
    let registry = TopologyRegistry()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        do {
            var next: (host: String, port: Int)? = nil
            for hop in stride(from: hops, through: 1, by: -1) {
                let service = BenchService(
                    hop: hop,
                    nextHop: next.map { NextHopClients(host: $0.host, port: $0.port) },
                    topology: registry
                )
                let server = RPCServer(
                    host: host,
                    port: hop == 1 ? port : 0,
                    router: service.router,
                    configuration: options.configuration
                )
                group.addTask { try await server.run() }
                let boundPort = try await server.listeningAddress.port ?? 0
                registry.register(hop: hop, port: boundPort, server: server, service: service)
                next = (host, boundPort)
            }
            let result = try await body(registry)
            registry.shutDown()
            await registry.closeClients()
            try await group.waitForAll()
            return result
        } catch {
            registry.shutDown()
            await registry.closeClients()
            group.cancelAll()
            try? await group.waitForAll()
            throw error
        }
    }
}
