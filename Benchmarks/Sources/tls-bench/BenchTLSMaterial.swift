import DeadlineRPC
import NIOSSL
import ThrowawayPKI

/// The bench's throwaway CA and server certificate, as DeadlineRPC settings and as a raw swift-nio-ssl client
/// context (for the handshakes driven below DeadlineRPC's client).
struct BenchTLSMaterial: Sendable {
    /// The name the server's certificate carries; every client checks it.
    static let serverName = "tls-bench.bench.test"

    /// The server's settings.
    let serverSecurity: ServerTransportSecurity
    /// A DeadlineRPC client's settings.
    let clientSecurity: ClientTransportSecurity
    /// A bare TLS client: full verification of chain and name, TLS 1.2 minimum, ALPN `drpc/1` (the server refuses
    /// a client that offers none), no session resumption: every handshake is a full one.
    let rawClientContext: NIOSSLContext

    init() throws {
        let ca = try ThrowawayCA(name: "tls-bench throwaway CA")
        let server = try ca.issue(commonName: "tls-bench", dnsNames: [Self.serverName])
        self.serverSecurity = server.serverSecurity
        self.clientSecurity = server.clientSecurity(serverName: Self.serverName)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.certificatePEM.utf8)))
        configuration.applicationProtocols = ["drpc/1"]
        configuration.certificateVerification = .fullVerification
        self.rawClientContext = try NIOSSLContext(configuration: configuration)
    }
}
