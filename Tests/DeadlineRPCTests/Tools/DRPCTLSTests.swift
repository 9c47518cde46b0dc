@testable import DeadlineRPC
import Foundation
import TestSupport
import Testing

/// `drpc`'s TLS flags against TLS and mutual-TLS test servers (certificates made in the test, written to a
/// temporary folder for the flags to read).
@Suite("drpc: TLS flags", .serialized, .timeLimit(.minutes(5)), .heavyweight)
struct DRPCTLSTests {
    /// Writes `files` (name → PEM text) to a fresh temporary folder and returns their paths by name.
    static func write(_ files: [String: String]) throws -> [String: String] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drpc-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var paths: [String: String] = [:]
        for (name, text) in files {
            let url = folder.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            paths[name] = url.path
        }
        return paths
    }

    @Test("--ca and --server-name reach a TLS server; without --ca the system roots refuse its certificate (UNAVAILABLE, exit 3)")
    func tls() async throws {
        let ca = try TestCA()
        let server = try ca.issue(commonName: "server", dnsNames: ["localhost"], ipv4: [[127, 0, 0, 1]])
        let files = try Self.write(["ca.pem": try ca.certificate.serializeAsPEM().pemString])
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: files["ca.pem"]!).deletingLastPathComponent().path) }
        var configuration = RPCServer.Configuration()
        configuration.transportSecurity = server.serverSecurity
        try await withDRPCServer(configuration: configuration) { target in
            let named = try await DRPCProcess.run(["health", target, "--ca", files["ca.pem"]!, "--server-name", "localhost"])
            #expect(named.status == 0, "\(named)")
            #expect(named.stdoutLines == ["SERVING"])

            let byAddress = try await DRPCProcess.run(["call", target, "greeter.Greeter/Greet", #"{"name":"tls"}"#, "--tls", "--ca", files["ca.pem"]!])
            #expect(byAddress.status == 0, "\(byAddress)")
            #expect(byAddress.stdoutLines == [#"{"text":"Hello, tls!"}"#])

            let untrusted = try await DRPCProcess.run(["health", target, "--tls", "--timeout", "20s"])
            #expect(untrusted.status == 3, "\(untrusted)")
            #expect(untrusted.stderr.hasPrefix("ERROR: UNAVAILABLE"), "\(untrusted)")

            let plaintext = try await DRPCProcess.run(["health", target, "--timeout", "20s"])
            #expect(plaintext.status == 3, "\(plaintext)")
        }
    }

    @Test("--cert and --key present a client certificate to a mutual-TLS server; without them it refuses the connection")
    func mutualTLS() async throws {
        let ca = try TestCA()
        let server = try ca.issue(commonName: "server", dnsNames: ["localhost"])
        let client = try ca.issue(commonName: "drpc")
        let files = try Self.write([
            "ca.pem": try ca.certificate.serializeAsPEM().pemString,
            "client.pem": client.certificatePEM,
            "client-key.pem": client.keyPEM,
        ])
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: files["ca.pem"]!).deletingLastPathComponent().path) }
        var configuration = RPCServer.Configuration()
        configuration.transportSecurity = server.mutualServerSecurity(clientRoots: try ca.trustRoots)
        try await withDRPCServer(configuration: configuration) { target in
            let common = ["--ca", files["ca.pem"]!, "--server-name", "localhost"]
            let allowed = try await DRPCProcess.run(["list", target, "--cert", files["client.pem"]!, "--key", files["client-key.pem"]!] + common)
            #expect(allowed.status == 0, "\(allowed)")
            #expect(allowed.stdoutLines.count == DRPCTestService.methodNames.count + 3)

            let refused = try await DRPCProcess.run(["list", target, "--timeout", "20s"] + common)
            #expect(refused.status == 3, "\(refused)")
        }
    }
}
