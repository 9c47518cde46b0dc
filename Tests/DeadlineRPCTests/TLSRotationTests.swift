@testable import DeadlineRPC
import Foundation
import Logging
import MetricsTestKit
import NIOCore
import Testing
import X509

/// Certificate rotation without a restart (docs/SECURITY.md, "Rotating certificates"): the chain, key and trust roots
/// are files the test rewrites (atomically, as an operator would), then reloads on demand or awaits the interval's
/// reload through the reload counters. Certificates are made in the test process.
@Suite("TLS rotation without restart", .timeLimit(.minutes(5)))
struct TLSRotationTests {
    static let identityMethod = Method<Echo, Echo>.unary("test.Identity/Who")
    static let options = CallOptions(timeout: .seconds(30))

    let ca: TestCA
    let files: RotationFiles

    init() throws {
        self.ca = try TestCA()
        self.files = try RotationFiles()
    }

    func router() -> Router {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.unary(Self.identityMethod) { _, context in Echo(text: context.peer?.subject ?? "anonymous") }
        return router
    }

    func serverIdentity(_ name: String = "server", validFrom: TimeInterval = -3600, validUntil: TimeInterval = 24 * 3600) throws -> TestIdentity {
        try self.ca.issue(commonName: name, dnsNames: ["localhost"], ipv4: [[127, 0, 0, 1]], validFrom: validFrom, validUntil: validUntil)
    }

    /// A server reading its chain and key from ``files`` (and, with `clientRoots`, requiring client certificates).
    func startServer(
        reloadInterval: Duration? = nil,
        clientRoots: TLSTrustRoots? = nil,
        logs: LogCapture? = nil,
        metrics: TestMetrics? = nil,
        port: Int = 0
    ) -> RPCServer {
        var security: ServerTransportSecurity =
            if let clientRoots {
                .mutualTLS(certificateChain: [.pemFile(self.files.certificate)], privateKey: .pemFile(self.files.key), clientTrustRoots: clientRoots)
            } else {
                .tls(certificateChain: [.pemFile(self.files.certificate)], privateKey: .pemFile(self.files.key))
            }
        security.reloadInterval = reloadInterval
        var configuration = RPCServer.Configuration()
        configuration.transportSecurity = security
        if let logs { configuration.logger = logs.logger(label: "server") }
        if let metrics {
            configuration.metricsFactory = metrics
            configuration.metricsPrefix = "t"
        }
        return RPCServer(host: "127.0.0.1", port: port, router: self.router(), configuration: configuration)
    }

    func client(port: Int, security: ClientTransportSecurity? = nil, logs: LogCapture? = nil) throws -> RPCClient {
        var configuration = RPCClient.Configuration()
        configuration.transportSecurity = try security ?? .tls(trustRoots: self.ca.trustRoots)
        if let logs { configuration.logger = logs.logger(label: "client") }
        return RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
    }

    /// The serial number of the certificate the server presented on the connection the call went over.
    static func serverSerial(_ client: RPCClient, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Certificate.SerialNumber {
        let response = try await client.unaryResponse(TestMethods.echo, Echo(text: "who are you"), options: Self.options)
        let leaf = try #require(response.peer?.certificateChain.first, "the call saw no server certificate", sourceLocation: sourceLocation)
        return try Certificate(derEncoded: leaf).serialNumber
    }

    /// Runs `body` with `server` serving; stops it and awaits its end afterwards (also when `body` throws).
    func serving<T: Sendable>(_ server: RPCServer, _ body: (Int) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            do {
                let result = try await body(try await server.listeningAddress.port!)
                server.beginGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                server.beginGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    // MARK: Rotation

    @Test("On demand: new connections get the new certificate, an open connection keeps the old one and keeps working")
    func rotationOnDemand() async throws {
        let old = try self.serverIdentity("server-old")
        let new = try self.serverIdentity("server-new")
        let (oldSerial, newSerial) = (try old.serial, try new.serial)
        try self.files.write(old)
        let logs = LogCapture()
        let server = self.startServer(logs: logs)
        try await self.serving(server) { port in
            let before = try self.client(port: port)
            #expect(try await Self.serverSerial(before) == oldSerial)

            try self.files.write(new)
            try await server.reloadTLS()
            #expect(server.stats.tlsReloads == TLSReloadStats(succeeded: 1))
            let line = await logs.first { $0.message.hasPrefix("TLS server material reloaded") }
            #expect(line?.level == .info)
            #expect(line?.metadata["drpc.tls_serial"] == "\(newSerial)")

            let after = try self.client(port: port)
            #expect(try await Self.serverSerial(after) == newSerial)
            // The connection made before the rotation carries on, with the certificate it was made with.
            #expect(try await Self.serverSerial(before) == oldSerial)
            #expect(try await before.unary(TestMethods.echo, Echo(text: "still here"), options: Self.options) == Echo(text: "still here"))
            #expect(before.stats.connectionsOpened == 1)

            // A second witness outside this runtime: openssl sees the new certificate too.
            if let presented = try await OpenSSLWitness.serverCertificatePEM(port: port, caFile: self.files.caFile(self.ca)) {
                #expect(presented == OpenSSLWitness.normalized(new.certificatePEM))
            }
            await before.close()
            await after.close()
        }
    }

    @Test("On the interval: the reload counter shows each reload, and a new connection gets the rotated certificate")
    func rotationOnInterval() async throws {
        let old = try self.serverIdentity("server-old")
        let new = try self.serverIdentity("server-new")
        let newSerial = try new.serial
        try self.files.write(old)
        let server = self.startServer(reloadInterval: .milliseconds(50), logs: LogCapture())
        try await self.serving(server) { port in
            await server.stats(until: { $0.tlsReloads.succeeded >= 1 })
            try self.files.write(new)
            // The reload counted next may have read the files before the write; the one after it started after it.
            let seen = server.stats.tlsReloads.succeeded
            await server.stats(until: { $0.tlsReloads.succeeded >= seen + 2 })
            let client = try self.client(port: port)
            #expect(try await Self.serverSerial(client) == newSerial)
            #expect(server.stats.tlsReloads.failed.isEmpty)
            await client.close()
        }
    }

    // MARK: Failed reloads

    /// One way of breaking the files, and the cause and file a failed reload must name.
    struct Breakage: Sendable, CustomTestStringConvertible {
        let cause: TLSReloadError.Cause
        let testDescription: String
    }

    static let breakages: [Breakage] = [
        Breakage(cause: .missingFile, testDescription: "certificate file removed"),
        Breakage(cause: .unreadableFile, testDescription: "certificate path is a directory"),
        Breakage(cause: .invalidPEM, testDescription: "certificate file garbled"),
        Breakage(cause: .invalidPEM, testDescription: "key file truncated"),
        Breakage(cause: .keyMismatch, testDescription: "new certificate with the old key"),
        Breakage(cause: .certificateExpired, testDescription: "expired certificate"),
        Breakage(cause: .certificateNotYetValid, testDescription: "certificate not valid yet"),
    ]

    @Test("A failed reload keeps serving the old certificate, throws and logs the cause and file, and counts it", arguments: breakages)
    func failedReload(_ breakage: Breakage) async throws {
        let old = try self.serverIdentity("server-old")
        let oldSerial = try old.serial
        try self.files.write(old)
        let logs = LogCapture()
        let metrics = TestMetrics()
        let server = self.startServer(logs: logs, metrics: metrics)
        try await self.serving(server) { port in
            let file = try self.break(breakage)
            let error = await #expect(throws: TLSReloadError.self) { try await server.reloadTLS() }
            #expect(error?.cause == breakage.cause)
            #expect(error?.file == file)
            #expect(error.map { $0.message.contains(file) } == true, "\(String(describing: error))")
            #expect(server.stats.tlsReloads == TLSReloadStats(succeeded: 0, failed: [breakage.cause: 1]))
            let counter = try metrics.expectCounter("t_server_tls_reloads_total", [("result", "failed"), ("cause", breakage.cause.rawValue)])
            #expect(counter.totalValue == 1)

            let line = await logs.first { $0.message.hasPrefix("TLS server reload failed") }
            #expect(line?.level == .warning)
            #expect(line?.message == "TLS server reload failed; new connections keep using the current certificate, key and trust roots: \(error?.message ?? "")")
            #expect(line?.metadata["drpc.tls_reload_failure"] == "\(breakage.cause.rawValue)")
            #expect(line?.metadata["drpc.file"] == "\(file)")

            // Still serving, with the old material, to new connections.
            let client = try self.client(port: port)
            #expect(try await Self.serverSerial(client) == oldSerial)
            await client.close()
        }
    }

    /// Breaks the files as `breakage` says; returns the file the failure must name.
    func `break`(_ breakage: Breakage) throws -> String {
        switch breakage.testDescription {
        case "certificate file removed":
            try FileManager.default.removeItem(atPath: self.files.certificate)
            return self.files.certificate
        case "certificate path is a directory":
            try FileManager.default.removeItem(atPath: self.files.certificate)
            try FileManager.default.createDirectory(atPath: self.files.certificate, withIntermediateDirectories: false)
            return self.files.certificate
        case "certificate file garbled":
            try self.files.replace(self.files.certificate, with: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
            return self.files.certificate
        case "key file truncated":
            let key = try self.serverIdentity().keyPEM
            try self.files.replace(self.files.key, with: String(key.prefix(key.count / 2)))
            return self.files.key
        case "new certificate with the old key":
            try self.files.replace(self.files.certificate, with: try self.serverIdentity("server-new").certificatePEM)
            return self.files.key
        case "expired certificate":
            try self.files.write(try self.serverIdentity("server-expired", validFrom: -7200, validUntil: -3600))
            return self.files.certificate
        case "certificate not valid yet":
            try self.files.write(try self.serverIdentity("server-future", validFrom: 3600, validUntil: 7200))
            return self.files.certificate
        default:
            Issue.record("unknown breakage \(breakage.testDescription)")
            return ""
        }
    }

    @Test("A failed reload on the interval is counted with its cause; repairing the file lets the next reload take")
    func failedReloadOnInterval() async throws {
        let old = try self.serverIdentity("server-old")
        let new = try self.serverIdentity("server-new")
        let (oldSerial, newSerial) = (try old.serial, try new.serial)
        try self.files.write(old)
        let server = self.startServer(reloadInterval: .milliseconds(50), logs: LogCapture())
        try await self.serving(server) { port in
            try self.files.replace(self.files.certificate, with: try self.serverIdentity("server-new").certificatePEM)
            await server.stats(until: { $0.tlsReloads.failed[.keyMismatch, default: 0] >= 1 })
            let client = try self.client(port: port)
            #expect(try await Self.serverSerial(client) == oldSerial)
            try self.files.write(new)
            let seen = server.stats.tlsReloads.succeeded
            await server.stats(until: { $0.tlsReloads.succeeded >= seen + 2 })
            let later = try self.client(port: port)
            #expect(try await Self.serverSerial(later) == newSerial)
            await client.close()
            await later.close()
        }
    }

    @Test("reloadTLS() on a plaintext server or client fails with failedPrecondition")
    func reloadWithoutTLS() async throws {
        try await withServerAndClient(router: self.router()) { server, client in
            let serverError = await #expect(throws: RPCError.self) { try await server.reloadTLS() }
            #expect(serverError?.code == .failedPrecondition)
            let clientError = await #expect(throws: RPCError.self) { try await client.reloadTLS() }
            #expect(clientError?.code == .failedPrecondition)
        }
    }

    // MARK: Trust roots

    @Test("The server's client trust roots reload: a client certificate from a new CA is refused before, accepted after")
    func serverTrustRootsReload() async throws {
        let newCA = try TestCA(name: "New Client CA")
        try self.files.write(try self.serverIdentity())
        try self.files.replace(self.files.roots, with: try self.ca.certificate.serializeAsPEM().pemString)
        let server = self.startServer(clientRoots: .certificates([.pemFile(self.files.roots)]))
        try await self.serving(server) { port in
            let newcomer = try newCA.issue(commonName: "newcomer").mutualClientSecurity(trustRoots: try self.ca.trustRoots)
            let refused = try self.client(port: port, security: newcomer)
            // Refused in the handshake (TLS 1.2) or right after it (TLS 1.3, where the server checks the client's
            // certificate after the client has finished): either way the call fails unavailable.
            let error = await #expect(throws: RPCError.self) { try await refused.unary(Self.identityMethod, Echo(text: ""), options: Self.options) }
            #expect(error?.code == .unavailable)
            await refused.close()

            // Both CAs, as during a CA rotation: clients of either are let in.
            try self.files.replace(self.files.roots, with: try self.ca.certificate.serializeAsPEM().pemString + "\n" + newCA.certificate.serializeAsPEM().pemString)
            try await server.reloadTLS()
            let accepted = try self.client(port: port, security: newcomer)
            #expect(try await accepted.unary(Self.identityMethod, Echo(text: ""), options: Self.options) == Echo(text: "CN=newcomer,O=DeadlineRPC Tests"))
            let veteran = try self.client(port: port, security: try self.ca.issue(commonName: "veteran").mutualClientSecurity(trustRoots: try self.ca.trustRoots))
            #expect(try await veteran.unary(Self.identityMethod, Echo(text: ""), options: Self.options) == Echo(text: "CN=veteran,O=DeadlineRPC Tests"))
            await accepted.close()
            await veteran.close()
        }
    }

    // MARK: The client's own material

    @Test("The client reloads its own certificate for mutual TLS: its open connection keeps the old one, a new connection presents the new one")
    func clientCertificateReload() async throws {
        try self.files.write(try self.serverIdentity())
        let clientFiles = try RotationFiles()
        try clientFiles.write(try self.ca.issue(commonName: "client-old"))
        let security = ClientTransportSecurity.mutualTLS(
            certificateChain: [.pemFile(clientFiles.certificate)],
            privateKey: .pemFile(clientFiles.key),
            trustRoots: .certificates([.pemFile(try clientFiles.caFile(self.ca))])
        )
        let first = self.startServer(clientRoots: try self.ca.trustRoots)
        let (client, port) = try await self.serving(first) { port in
            let client = try self.client(port: port, security: security)
            #expect(try await client.unary(Self.identityMethod, Echo(text: ""), options: Self.options) == Echo(text: "CN=client-old,O=DeadlineRPC Tests"))
            try clientFiles.write(try self.ca.issue(commonName: "client-new"))
            try await client.reloadTLS()
            #expect(client.stats.tlsReloads == TLSReloadStats(succeeded: 1))
            // The open connection is the one made with the old certificate.
            #expect(try await client.unary(Self.identityMethod, Echo(text: ""), options: Self.options) == Echo(text: "CN=client-old,O=DeadlineRPC Tests"))
            #expect(client.stats.connectionsOpened == 1)
            return (client, port)
        }
        // The server restarts on the same port: the client's next connection presents the new certificate.
        let second = self.startServer(clientRoots: try self.ca.trustRoots, port: port)
        try await self.serving(second) { _ async throws -> Void in
            #expect(try await client.unary(Self.identityMethod, Echo(text: ""), options: Self.options) == Echo(text: "CN=client-new,O=DeadlineRPC Tests"))
            #expect(client.stats.connectionsOpened == 2)
            await client.close()
        }
    }

    @Test("The client reloads on its interval: a broken key file is counted with its cause and logged, the old material stays")
    func clientIntervalReload() async throws {
        try self.files.write(try self.serverIdentity())
        let clientFiles = try RotationFiles()
        try clientFiles.write(try self.ca.issue(commonName: "client-old"))
        let security = ClientTransportSecurity.mutualTLS(
            certificateChain: [.pemFile(clientFiles.certificate)],
            privateKey: .pemFile(clientFiles.key),
            trustRoots: try self.ca.trustRoots
        ).reloading(every: .milliseconds(50))
        let logs = LogCapture()
        let server = self.startServer(clientRoots: try self.ca.trustRoots)
        try await self.serving(server) { port in
            let client = try self.client(port: port, security: security, logs: logs)
            // A reload asked for before the first connection loads the material; the interval's timer still starts.
            try await client.reloadTLS()
            #expect(try await client.unary(Self.identityMethod, Echo(text: ""), options: Self.options) == Echo(text: "CN=client-old,O=DeadlineRPC Tests"))
            await Self.clientReloads(client) { $0.succeeded >= 2 }
            try clientFiles.replace(clientFiles.key, with: "-----BEGIN PRIVATE KEY-----\nZ2FyYmxlZA==\n-----END PRIVATE KEY-----\n")
            await Self.clientReloads(client) { $0.failed[.invalidPEM, default: 0] >= 1 }
            let line = await logs.first { $0.message.hasPrefix("TLS client reload failed") }
            #expect(line?.level == .warning)
            #expect(line?.metadata["drpc.file"] == "\(clientFiles.key)")
            #expect(try await client.unary(Self.identityMethod, Echo(text: ""), options: Self.options) == Echo(text: "CN=client-old,O=DeadlineRPC Tests"))
            await client.close()
        }
    }

    /// Awaits the client's reload counters (woken by each change; the timeout only turns a hang into a failure).
    static func clientReloads(
        _ client: RPCClient,
        sourceLocation: SourceLocation = #_sourceLocation,
        until condition: @escaping @Sendable (TLSReloadStats) -> Bool
    ) async {
        let stats = client.stats
        _ = await awaitCondition("The client's reload counters", timeout: .seconds(30), sourceLocation: sourceLocation, now: { stats.tlsReloads }) {
            await stats.wait { condition($0.tlsReloads) } ? stats.tlsReloads : nil
        }
    }
}

extension TestIdentity {
    /// The certificate's serial number.
    var serial: Certificate.SerialNumber {
        get throws { try Certificate(derEncoded: self.der).serialNumber }
    }
}

extension TLSReloadStats {
    init(succeeded: Int, failed: [TLSReloadError.Cause: Int] = [:]) {
        self.init()
        self.succeeded = succeeded
        self.failed = failed
    }
}

/// A temporary folder with a certificate, key and trust-root file, rewritten the way an operator rotates them: to a
/// temporary name, then renamed over the old file, so a reader sees the old file or the new one, never half of one.
final class RotationFiles: Sendable {
    let directory: String
    var certificate: String { self.directory + "/tls.pem" }
    var key: String { self.directory + "/tls.key" }
    var roots: String { self.directory + "/roots.pem" }

    init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("drpc-rotation-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Replaces the certificate, then the key.
    func write(_ identity: TestIdentity) throws {
        try self.replace(self.certificate, with: identity.certificatePEM)
        try self.replace(self.key, with: identity.keyPEM)
    }

    /// Writes `text` to a temporary file and renames it over `path`.
    func replace(_ path: String, with text: String) throws {
        let temporary = path + ".tmp-\(UUID().uuidString)"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// Writes the CA's certificate (no key) to a file and returns its path.
    func caFile(_ ca: TestCA) throws -> String {
        let path = self.directory + "/ca.pem"
        try self.replace(path, with: try ca.certificate.serializeAsPEM().pemString)
        return path
    }
}

/// `openssl s_client`, when installed, as a witness outside the runtime.
enum OpenSSLWitness {
    /// The PEM of the certificate the server on `port` presents (normalized), or nil without openssl.
    static func serverCertificatePEM(port: Int, caFile: String) async throws -> String? {
        guard let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("openssl is missing on CI (.ci/run installs it)") }
            return nil
        }
        let output = try await TLSTests.run(openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-alpn", "drpc/1", "-servername", "localhost", "-CAfile", caFile, "-verify_return_error"])
        guard let begin = output.range(of: "-----BEGIN CERTIFICATE-----"), let end = output.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<output.endIndex) else {
            Issue.record("openssl printed no certificate: \(output)")
            return nil
        }
        return self.normalized(String(output[begin.lowerBound..<end.upperBound]))
    }

    /// PEM without line breaks or surrounding whitespace, for comparison.
    static func normalized(_ pem: String) -> String {
        pem.filter { !$0.isWhitespace }
    }
}
