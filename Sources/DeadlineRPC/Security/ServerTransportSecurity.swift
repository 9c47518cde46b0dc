/// How a server secures its connections: plaintext (the default), TLS, or mutual TLS. With TLS, every connection
/// negotiates TLS 1.2 or 1.3 (1.3 preferred) and the ALPN identifier `drpc/1`; a client that negotiates no ALPN
/// protocol is refused (`docs/SECURITY.md`).
public struct ServerTransportSecurity: Sendable, Hashable {
    enum Mode: Sendable, Hashable {
        case plaintext
        case tls(certificateChain: [TLSCertificateSource], privateKey: TLSPrivateKeySource, clientTrustRoots: TLSTrustRoots?)
    }

    let mode: Mode
    /// How often the certificate chain, private key and client trust roots are read again from their files (a
    /// rotation without restart, `docs/SECURITY.md`); nil (the default), zero or negative: only when
    /// `RPCServer.reloadTLS()` asks. New connections use reloaded material; open ones keep theirs.
    public var reloadInterval: Duration? = nil

    /// No TLS: bytes cross the network in the clear (fine on loopback or inside a trusted network).
    public static let plaintext = ServerTransportSecurity(mode: .plaintext)

    /// TLS with the server's certificate chain (leaf first) and private key; clients are not asked for certificates.
    public static func tls(certificateChain: [TLSCertificateSource], privateKey: TLSPrivateKeySource) -> Self {
        Self(mode: .tls(certificateChain: certificateChain, privateKey: privateKey, clientTrustRoots: nil))
    }

    /// Mutual TLS: as ``tls(certificateChain:privateKey:)``, and every client must present a certificate that chains
    /// to `clientTrustRoots`; handlers see it as ``CallContext/peer``.
    public static func mutualTLS(
        certificateChain: [TLSCertificateSource],
        privateKey: TLSPrivateKeySource,
        clientTrustRoots: TLSTrustRoots
    ) -> Self {
        Self(mode: .tls(certificateChain: certificateChain, privateKey: privateKey, clientTrustRoots: clientTrustRoots))
    }

    /// These settings, reloaded from their files every `interval` (``reloadInterval``).
    public func reloading(every interval: Duration) -> Self {
        var copy = self
        copy.reloadInterval = interval
        return copy
    }

    /// Whether connections use TLS.
    public var usesTLS: Bool {
        if case .tls = self.mode { return true }
        return false
    }
}
