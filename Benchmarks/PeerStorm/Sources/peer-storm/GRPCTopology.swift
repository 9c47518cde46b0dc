import GRPCCore
import GRPCNIOTransportHTTP2Posix
import RPCBenchCore

/// A chain of grpc-swift-2 bench servers in this process, read directly: the bench's target.
struct GRPCTopology: BenchTarget {
    /// Every hop's service and port, hop 1 first.
    let hops: [(service: GRPCBenchService, port: Int)]
    /// Always `127.0.0.1`.
    let host = "127.0.0.1"
    /// Hop 1's port.
    var port: Int { self.hops.first?.port ?? 0 }
    /// `embedded`.
    var label: String { "embedded" }

    /// Every hop's counters and this process's memory.
    func snapshot(trimMemory: Bool) async throws -> TopologySnapshot {
        TopologySnapshot(
            hops: self.hops.enumerated().map { index, hop in
                HopSnapshot(
                    hop: index + 1,
                    port: hop.port,
                    callsStarted: hop.service.counters.started.load(ordering: .relaxed),
                    callsFinished: hop.service.counters.finished.load(ordering: .relaxed),
                    handlersInFlight: hop.service.counters.inFlight
                )
            },
            rssBytes: trimMemory ? ProcessMemory.trimmedResidentBytes : ProcessMemory.residentBytes,
            peakRSSBytes: ProcessMemory.peakResidentBytes,
            clockNanoseconds: BenchClock.now()
        )
    }

    /// Drains every hop's handler log.
    func drainRecords() async throws -> [HandlerRecord] {
        self.hops.flatMap { $0.service.log.drain() }
    }
}

/// The topology failed to start.
struct TopologyError: Error, CustomStringConvertible {
    /// What went wrong.
    var description: String
}

/// Runs a chain of `hops` grpc-swift-2 bench servers on 127.0.0.1 (free ports) — each hop's service calls the next
/// through a client of its own — calls `body`, then shuts clients and servers down gracefully and waits for them.
/// The servers start from the last hop backwards, so each knows the next one's port.
func withGRPCTopology<Result: Sendable>(
    hops: Int,
    options: GRPCStackOptions,
    _ body: (GRPCTopology) async throws -> Result
) async throws -> Result {
    precondition(hops >= 1 && hops <= 255, "a chain has 1...255 hops")
    return try await withThrowingTaskGroup(of: Void.self) { group in
        var servers: [GRPCServer<HTTP2ServerTransport.Posix>] = []
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        do {
            var chain: [(service: GRPCBenchService, port: Int)] = []
            var nextPort: Int?
            for hop in stride(from: hops, through: 1, by: -1) {
                var nextHop: GRPCClient<HTTP2ClientTransport.Posix>?
                if let nextPort {
                    let client = GRPCClient(
                        transport: try HTTP2ClientTransport.Posix(
                            target: .ipv4(address: "127.0.0.1", port: nextPort),
                            transportSecurity: .plaintext,
                            config: options.clientConfig()
                        )
                    )
                    clients.append(client)
                    group.addTask { try await client.runConnections() }
                    nextHop = client
                }
                let service = GRPCBenchService(hop: hop, nextHop: nextHop, cancellation: options.cancellation)
                let server = GRPCServer(
                    transport: HTTP2ServerTransport.Posix(
                        address: .ipv4(host: "127.0.0.1", port: 0),
                        transportSecurity: .plaintext,
                        config: options.serverConfig
                    ),
                    services: [service]
                )
                servers.append(server)
                group.addTask { try await server.serve() }
                guard let port = try await server.transport.listeningAddress.ipv4?.port else {
                    throw TopologyError(description: "hop \(hop) is not listening on IPv4")
                }
                chain.insert((service, port), at: 0)
                nextPort = port
            }
            let result = try await body(GRPCTopology(hops: chain))
            for client in clients { client.beginGracefulShutdown() }
            for server in servers { server.beginGracefulShutdown() }
            try await group.waitForAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}
