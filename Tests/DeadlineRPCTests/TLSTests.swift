@testable import DeadlineRPC
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import X509

/// TLS and mutual TLS (docs/SECURITY.md): certificates are made in the test process.
@Suite("TLS and mutual TLS", .timeLimit(.minutes(5)))
struct TLSTests {
    static let identityMethod = Method<Echo, Echo>.unary("test.Identity/Who")

    let ca: TestCA
    let server: TestIdentity

    init() throws {
        self.ca = try TestCA()
        self.server = try self.ca.issue(commonName: "server", dnsNames: ["localhost"], ipv4: [[127, 0, 0, 1]])
    }

    func router() -> Router {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.unary(Self.identityMethod) { _, context in
            guard let peer = context.peer else { return Echo(text: "anonymous") }
            return Echo(text: "\(peer.subject)|\(peer.dnsNames)|\(peer.uris)|\(peer.ipAddresses)|\(peer.certificateChain.count)")
        }
        return router
    }

    func configurations(
        server security: ServerTransportSecurity,
        client clientSecurity: ClientTransportSecurity,
        logs: LogCapture? = nil
    ) -> (RPCServer.Configuration, RPCClient.Configuration) {
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.transportSecurity = security
        if let logs { serverConfiguration.logger = logs.logger(label: "server") }
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.transportSecurity = clientSecurity
        return (serverConfiguration, clientConfiguration)
    }

    /// Runs one echo that must fail, and returns its error.
    func failingEcho(
        server security: ServerTransportSecurity,
        client clientSecurity: ClientTransportSecurity,
        logs: LogCapture,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (RPCError, Int, ServerStats) {
        let (serverConfiguration, clientConfiguration) = self.configurations(server: security, client: clientSecurity, logs: logs)
        return try await withServerAndClient(router: self.router(), serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            let port = try await server.listeningAddress.port!
            let error = await #expect(throws: RPCError.self, sourceLocation: sourceLocation) {
                try await client.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(60)))
            }
            await server.stats(until: { $0.tlsHandshakeFailures >= 1 }, sourceLocation: sourceLocation)
            return (error!, port, server.stats)
        }
    }

    @Test("A TLS client and server echo; one-way TLS gives handlers no peer identity")
    func tlsEcho() async throws {
        let (serverConfiguration, clientConfiguration) = self.configurations(
            server: self.server.serverSecurity, client: .tls(trustRoots: try self.ca.trustRoots)
        )
        try await withServerAndClient(router: self.router(), serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, client in
            let echoed = try await client.unary(TestMethods.echo, Echo(text: "over TLS"))
            #expect(echoed == Echo(text: "over TLS"))
            let identity = try await client.unary(Self.identityMethod, Echo(text: ""))
            #expect(identity == Echo(text: "anonymous"))
        }
    }

    @Test("With mutual TLS the handler sees the client certificate's subject, SANs and chain")
    func mutualTLSPeerIdentity() async throws {
        let client = try self.ca.issue(
            commonName: "orders", dnsNames: ["orders.prod.example.org"], uris: ["spiffe://example.org/ns/prod/sa/orders"], ipv4: [[10, 0, 0, 7]]
        )
        let (serverConfiguration, clientConfiguration) = self.configurations(
            server: self.server.mutualServerSecurity(clientRoots: try self.ca.trustRoots),
            client: client.mutualClientSecurity(trustRoots: try self.ca.trustRoots, serverName: "localhost")
        )
        try await withServerAndClient(router: self.router(), serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, rpc in
            let reply = try await rpc.unary(Self.identityMethod, Echo(text: ""))
            #expect(reply == Echo(text: "CN=orders,O=DeadlineRPC Tests|[\"orders.prod.example.org\"]|[\"spiffe://example.org/ns/prod/sa/orders\"]|[\"10.0.0.7\"]|2"))
        }
    }

    @Test("SANAuthorizationInterceptor allows an allowed URI SAN and refuses others with permissionDenied")
    func sanAuthorization() async throws {
        let prod = try self.ca.issue(commonName: "orders", uris: ["spiffe://example.org/ns/prod/sa/orders"])
        let dev = try self.ca.issue(commonName: "tinker", uris: ["spiffe://example.org/ns/production/sa/tinker"])
        var (serverConfiguration, clientConfiguration) = self.configurations(
            server: self.server.mutualServerSecurity(clientRoots: try self.ca.trustRoots),
            client: prod.mutualClientSecurity(trustRoots: try self.ca.trustRoots)
        )
        serverConfiguration.interceptors = [SANAuthorizationInterceptor(dnsNames: ["admin.example.org"], uriPrefixes: ["spiffe://example.org/ns/prod/"])]
        try await withServerAndClient(router: self.router(), serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            let allowed = try await client.unary(TestMethods.echo, Echo(text: "allowed"))
            #expect(allowed == Echo(text: "allowed"))
            var devConfiguration = RPCClient.Configuration()
            devConfiguration.transportSecurity = dev.mutualClientSecurity(trustRoots: try self.ca.trustRoots)
            let devClient = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!, configuration: devConfiguration)
            let error = await #expect(throws: RPCError.self) { try await devClient.unary(TestMethods.echo, Echo(text: "refused")) }
            await devClient.close()
            #expect(error?.code == .permissionDenied)
            #expect(error?.message == "The client certificate (CN=tinker,O=DeadlineRPC Tests; URI:spiffe://example.org/ns/production/sa/tinker) is not allowed to call test.Echo/Get.")
        }
    }

    @Test("SANAuthorizationInterceptor refuses a call without a client certificate with unauthenticated")
    func sanAuthorizationWithoutCertificate() async throws {
        var (serverConfiguration, clientConfiguration) = self.configurations(
            server: self.server.serverSecurity, client: .tls(trustRoots: try self.ca.trustRoots)
        )
        serverConfiguration.interceptors = [SANAuthorizationInterceptor(uriPrefixes: ["spiffe://example.org/ns/prod/"])]
        try await withServerAndClient(router: self.router(), serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, client in
            let error = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "x")) }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message == "The call came without a verified client certificate; test.Echo/Get needs mutual TLS.")
        }
    }

    @Test("Mutual TLS refuses a client without a certificate: unavailable naming the cause, and a log line and counter on the server")
    func mutualTLSWithoutClientCertificate() async throws {
        let logs = LogCapture()
        let (error, port, stats) = try await self.failingEcho(
            server: self.server.mutualServerSecurity(clientRoots: try self.ca.trustRoots),
            client: .tls(trustRoots: try self.ca.trustRoots),
            logs: logs
        )
        #expect(error.code == .unavailable)
        #expect(error.message == "Cannot reach 127.0.0.1:\(port): TLS handshake failed: the server requires a client certificate (mutual TLS) and this client presented none.")
        #expect(stats.tlsHandshakeFailures == 1)
        let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
        #expect(line?.message == "TLS handshake refused: the client presented no certificate and mutual TLS requires one")
        #expect(line?.level == .info)
    }

    @Test("Mutual TLS refuses a client certificate from another CA")
    func mutualTLSWrongClientCA() async throws {
        let logs = LogCapture()
        let stranger = try TestCA(name: "Another CA").issue(commonName: "stranger", uris: ["spiffe://example.org/ns/prod/sa/x"])
        let (error, _, stats) = try await self.failingEcho(
            server: self.server.mutualServerSecurity(clientRoots: try self.ca.trustRoots),
            client: stranger.mutualClientSecurity(trustRoots: try self.ca.trustRoots),
            logs: logs
        )
        #expect(error.code == .unavailable)
        #expect(stats.tlsHandshakeFailures == 1)
        let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
        #expect(line?.message == "TLS handshake refused: the client's certificate is not signed by a trusted CA")
    }

    @Test("A server certificate from another CA: unavailable naming the cause")
    func wrongCA() async throws {
        let logs = LogCapture()
        let other = try TestCA(name: "Another CA")
        let (error, port, stats) = try await self.failingEcho(
            server: self.server.serverSecurity, client: .tls(trustRoots: try other.trustRoots), logs: logs
        )
        #expect(error.code == .unavailable)
        #expect(error.message == "Cannot reach 127.0.0.1:\(port): TLS handshake failed: its certificate is not signed by a CA this client trusts (wrong CA or trust roots).")
        #expect(stats.tlsHandshakeFailures == 1)
        let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
        #expect(line?.message == "TLS handshake refused: the client refused the server's certificate (alert unknown_ca)")
    }

    @Test("An expired server certificate: unavailable naming the expiry")
    func expiredCertificate() async throws {
        let logs = LogCapture()
        let expired = try self.ca.issue(commonName: "server", dnsNames: ["localhost"], ipv4: [[127, 0, 0, 1]], validFrom: -7200, validUntil: -3600)
        let notAfter = try Certificate(derEncoded: expired.der).notValidAfter
        let (error, port, stats) = try await self.failingEcho(
            server: expired.serverSecurity, client: .tls(trustRoots: try self.ca.trustRoots), logs: logs
        )
        #expect(error.code == .unavailable)
        #expect(error.message == "Cannot reach 127.0.0.1:\(port): TLS handshake failed: its certificate has expired (not valid after \(notAfter.ISO8601Format())).")
        #expect(stats.tlsHandshakeFailures == 1)
        let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
        #expect(line?.message == "TLS handshake refused: the client refused the server's certificate (alert certificate_expired)")
    }

    @Test("A certificate that does not name the host: unavailable naming the mismatch")
    func hostnameMismatch() async throws {
        let logs = LogCapture()
        let (serverConfiguration, clientConfiguration) = self.configurations(
            // Only a DNS SAN: swift-nio-ssl accepts a certificate whose IP SAN is the peer's address whatever name is
            // expected, so the server certificate used elsewhere (with 127.0.0.1) would pass.
            server: try self.ca.issue(commonName: "server", dnsNames: ["localhost"]).serverSecurity,
            client: .tls(trustRoots: try self.ca.trustRoots, serverName: "orders.example.org"), logs: logs
        )
        try await withServerAndClient(router: self.router(), serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            let port = try await server.listeningAddress.port!
            let error = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "x")) }
            #expect(error?.code == .unavailable)
            #expect(error?.message == "Cannot reach 127.0.0.1:\(port): TLS handshake failed: its certificate does not name orders.example.org (hostname mismatch).")
            await server.stats(until: { $0.tlsHandshakeFailures == 1 })
            let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
            #expect(line?.message == "TLS handshake refused: the client closed the connection right after the handshake, before its preface (it may have found the server's certificate does not name the host it wanted)")
        }
    }

    @Test("A plaintext client on a TLS port: unavailable naming the cause; the server logs and counts it")
    func plaintextClientOnTLSPort() async throws {
        let logs = LogCapture()
        let (error, port, stats) = try await self.failingEcho(server: self.server.serverSecurity, client: .plaintext, logs: logs)
        #expect(error.code == .unavailable)
        #expect(error.message == "Cannot reach 127.0.0.1:\(port): the server answered with TLS, and this client is configured for plaintext (set `transportSecurity` to `.tls`).")
        #expect(stats.tlsHandshakeFailures == 1)
        let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
        #expect(line?.message == "TLS handshake refused: the client did not speak TLS (a plaintext client on a TLS port)")
    }

    @Test("A TLS client on a plaintext port: unavailable naming the cause; the server logs and counts it")
    func tlsClientOnPlaintextPort() async throws {
        let logs = LogCapture()
        let (error, port, stats) = try await self.failingEcho(server: .plaintext, client: .tls(trustRoots: try self.ca.trustRoots), logs: logs)
        #expect(error.code == .unavailable)
        #expect(error.message == "Cannot reach 127.0.0.1:\(port): TLS handshake failed: the server did not answer with TLS (is it a plaintext port?).")
        #expect(stats.tlsHandshakeFailures == 1)
        let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
        #expect(line?.message == "TLS handshake refused: the client speaks TLS on a plaintext port")
    }

    @Test("A client that trickles its ClientHello is closed at the preface deadline")
    func trickledClientHello() async throws {
        let logs = LogCapture()
        var configuration = RPCServer.Configuration()
        configuration.transportSecurity = self.server.serverSecurity
        configuration.prefaceTimeout = .milliseconds(300)
        configuration.logger = logs.logger(label: "server")
        let server = RPCServer(host: "127.0.0.1", port: 0, router: self.router(), configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let address = try await server.listeningAddress
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(to: address).get()
            // A TLS record header announcing a 16 KiB ClientHello, then one byte at a time: each byte is progress that
            // must not extend the deadline. Bounded: 1,000 bytes at 10 ms is 10 s, far past the 300 ms deadline, and
            // short of the record, so only the deadline can end the connection.
            // On a loaded machine the deadline may pass before the first write: a failed write is the server's close.
            var sent = 0
            var open = (try? await channel.writeAndFlush(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x40, 0x00, 0x01])).get()) != nil
            while open && channel.isActive && sent < 1000 {
                do {
                    try await channel.writeAndFlush(ByteBuffer(bytes: [0x00])).get()
                } catch {
                    open = false  // The server closed the connection.
                    break
                }
                sent += 1
                try await Task.sleep(for: .milliseconds(10))  // Pacing the trickle, not ordering events.
            }
            try await channel.closeFuture.get()
            #expect(sent < 1000, "the trickle kept the connection open")
            let line = await logs.first { $0.message.hasPrefix("TLS handshake refused") }
            #expect(line?.message == "TLS handshake refused: the client did not complete the TLS handshake within 0.3 seconds (the preface timeout)")
            #expect(server.stats.tlsHandshakeFailures == 1)
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }

    @Test(
        "A graceful shutdown does not wait for a connection that never sent its preface (or its ClientHello): run() returns at once, long before the preface and drain timeouts",
        arguments: [false, true]
    )
    func shutdownWithSilentConnection(tls: Bool) async throws {
        var configuration = RPCServer.Configuration()
        if tls { configuration.transportSecurity = self.server.serverSecurity }
        configuration.prefaceTimeout = .seconds(600)
        configuration.drainTimeout = .seconds(600)
        let server = RPCServer(host: "127.0.0.1", port: 0, router: self.router(), configuration: configuration)
        let returned = Signal()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { returned.fire() }
                try await server.run()
            }
            let address = try await server.listeningAddress
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(to: address).get()
            await server.stats(until: { $0.connections == 1 })
            server.beginGracefulShutdown()
            // Only a bound on "never": without the fix either timeout (10 min here) would end it.
            #expect(await returned.wait(timeout: .seconds(30)))
            try await channel.closeFuture.get()
            try await group.waitForAll()
        }
    }

    @Test("openssl s_client negotiates TLS 1.3 and ALPN drpc/1 with a test server")
    func opensslClient() async throws {
        guard let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("openssl is missing on CI (.ci/run installs it)") }
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drpc-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let caFile = directory.appendingPathComponent("ca.pem")
        try self.ca.certificate.serializeAsPEM().pemString.write(to: caFile, atomically: true, encoding: .utf8)  // A certificate only: no key.
        var configuration = RPCServer.Configuration()
        configuration.transportSecurity = self.server.serverSecurity
        let server = RPCServer(host: "127.0.0.1", port: 0, router: self.router(), configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let output = try await Self.run(openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-alpn", "drpc/1", "-servername", "localhost", "-CAfile", caFile.path, "-verify_return_error"])
            #expect(output.contains("ALPN protocol: drpc/1"), "\(output)")
            #expect(output.contains("Verify return code: 0 (ok)"), "\(output)")
            #expect(output.contains("TLSv1.3"), "\(output)")
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }

    /// Runs a program with empty standard input, awaiting its exit without blocking a thread.
    static func run(_ path: String, _ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let collected = Mutex(Data())
        output.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            collected.withLock { $0.append(chunk) }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume() }
        }
        output.fileHandleForReading.readabilityHandler = nil
        let rest = (try? output.fileHandleForReading.readToEnd()) ?? Data()
        return collected.withLock { String(decoding: $0 + rest, as: UTF8.self) }
    }
}
