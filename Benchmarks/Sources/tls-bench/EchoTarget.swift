import DeadlineRPC
import Logging
import NIOCore

/// A DeadlineRPC echo server over TLS in this process, for the handshakes and the flood to hit.
enum EchoTarget {
    static let echo = Method<ByteBuffer, ByteBuffer>.raw("bench.Echo/Get", kind: .unary)

    /// Runs `body` with a TLS echo server on 127.0.0.1 (its port), then stops it. Its log is quiet: a flood's
    /// refused handshakes would otherwise print a line each.
    static func with<Result: Sendable>(
        _ material: BenchTLSMaterial,
        prefaceTimeout: Duration,
        _ body: @Sendable (RPCServer, Int) async throws -> Result
    ) async throws -> Result {
        var router = Router()
        router.unary(Self.echo) { request, _ in request }
        var configuration = RPCServer.Configuration()
        configuration.transportSecurity = material.serverSecurity
        configuration.prefaceTimeout = prefaceTimeout
        var logger = Logger(label: "tls-bench.server")
        logger.logLevel = .critical
        configuration.logger = logger
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            do {
                let port = try await server.listeningAddress.port ?? 0
                let result = try await body(server, port)
                server.beginGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                server.beginGracefulShutdown()
                group.cancelAll()
                try? await group.waitForAll()
                throw error
            }
        }
    }
}
