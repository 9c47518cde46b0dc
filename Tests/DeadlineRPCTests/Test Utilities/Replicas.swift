@testable import DeadlineRPC
import NIOCore
import Synchronization
import Testing

/// Replicas of one service in this process: servers on 127.0.0.1, each counting the calls it served, and a client
/// whose target lists them all. Every server is stopped and awaited before ``withReplicas(_:clientConfiguration:handler:_:)``
/// returns.
final class Replicas: Sendable {
    /// The servers, in the target's order.
    let servers: [RPCServer]
    /// Their addresses, in the same order.
    let endpoints: [Endpoint]
    private let served: Mutex<[Int]>

    init(servers: [RPCServer], endpoints: [Endpoint]) {
        self.servers = servers
        self.endpoints = endpoints
        self.served = Mutex(Array(repeating: 0, count: servers.count))
    }

    /// Calls each replica has served (handler entries), in order.
    var counts: [Int] { self.served.withLock { $0 } }

    /// Forgets the counts so far.
    func resetCounts() {
        self.served.withLock { $0 = Array(repeating: 0, count: $0.count) }
    }

    func record(_ replica: Int) {
        self.served.withLock { $0[replica] += 1 }
    }
}

/// The method every replica serves: `handler(replica, request)` answers; each entry is counted first.
enum ReplicaMethods {
    static let echo = Method<Echo, Echo>.unary("test.Replica/Echo", isIdempotent: true)
}

/// Runs `body` with `count` replicas (each configured by `serverConfiguration`) and a client for all of them
/// (configured by `clientConfiguration`).
func withReplicas<T: Sendable>(
    _ count: Int,
    serverConfiguration: RPCServer.Configuration = RPCServer.Configuration(),
    clientConfiguration: RPCClient.Configuration = RPCClient.Configuration(),
    health: [HealthService]? = nil,
    handler: @escaping @Sendable (Int, Echo, CallContext) async throws -> Echo = { replica, request, _ in Echo(text: "\(replica)") },
    _ body: @Sendable (Replicas, RPCClient) async throws -> T
) async throws -> T {
    let box = Mutex<Replicas?>(nil)
    let servers = (0..<count).map { replica in
        var router = Router()
        router.unary(ReplicaMethods.echo) { request, context in
            box.withLock { $0 }!.record(replica)
            return try await handler(replica, request, context)
        }
        if let health { router.addHealthService(health[replica]) }
        return RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: serverConfiguration)
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for server in servers { group.addTask { try await server.run() } }
        var endpoints: [Endpoint] = []
        for server in servers { endpoints.append(Endpoint(host: "127.0.0.1", port: try await server.listeningAddress.port!)) }
        let replicas = Replicas(servers: servers, endpoints: endpoints)
        box.withLock { $0 = replicas }
        let client = RPCClient(target: .endpoints(endpoints), configuration: clientConfiguration)
        do {
            let result = try await body(replicas, client)
            await watchdog("client.close()", describe: { await client.debugSnapshot() }) { await client.close() }
            for server in servers { server.beginGracefulShutdown() }
            try await group.waitForAll()
            return result
        } catch {
            await client.close()
            for server in servers { server.beginGracefulShutdown() }
            try? await group.waitForAll()
            throw error
        }
    }
}

extension RPCClient {
    /// Returns once `count` connections have opened (every replica of a list is connected after the first call).
    func connectionsOpened(_ count: Int) async {
        _ = await self.stats.wait { $0.connectionsOpened >= count }
    }
}
