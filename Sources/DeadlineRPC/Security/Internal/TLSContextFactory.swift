import NIOSSL

/// Builds swift-nio-ssl contexts from loaded material (``TLSMaterialLoader`` reads and checks it): TLS 1.2 minimum
/// (swift-nio-ssl's own default is 1.0), 1.3 preferred (negotiated whenever both sides have it), ALPN `drpc/1`.
enum TLSContextFactory {
    /// The ALPN identifier of the DeadlineRPC protocol (PROTOCOL.md).
    static let alpnIdentifier = "drpc/1"

    /// A server context; with `clientTrustRoots`, clients must present a certificate chaining to them.
    static func serverContext(
        certificateChain: [NIOSSLCertificate],
        privateKey: NIOSSLPrivateKey,
        clientTrustRoots: NIOSSLTrustRoots?
    ) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = [Self.alpnIdentifier]
        if let clientTrustRoots {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = clientTrustRoots
        } else {
            configuration.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// A client context verifying the server against `trustRoots`; with a key, it presents `certificateChain`.
    static func clientContext(
        trustRoots: NIOSSLTrustRoots,
        certificateChain: [NIOSSLCertificate],
        privateKey: NIOSSLPrivateKey?
    ) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = [Self.alpnIdentifier]
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = trustRoots
        if let privateKey {
            configuration.certificateChain = certificateChain.map { .certificate($0) }
            configuration.privateKey = .privateKey(privateKey)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
