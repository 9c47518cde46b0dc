/// How a client secures its connections: plaintext (the default), TLS, or mutual TLS. With TLS the server's
/// certificate must chain to the trust roots and name the host the client connects to (or ``serverName``); TLS 1.2
/// or 1.3 (1.3 preferred) and the ALPN identifier `drpc/1` are required (`docs/SECURITY.md`).
public struct ClientTransportSecurity: Sendable, Hashable {
    enum Mode: Sendable, Hashable {
        case plaintext
        case tls(trustRoots: TLSTrustRoots, certificateChain: [TLSCertificateSource], privateKey: TLSPrivateKeySource?)
    }

    let mode: Mode
    /// The name sent as SNI and checked against the server's certificate, for every endpoint; nil uses the
    /// target's host name (for a `dns:///` target, the DNS name, not the resolved addresses).
    public var serverName: String?
    /// How often the client's certificate chain, private key and trust roots are read again from their files (a
    /// rotation without restart, `docs/SECURITY.md`); nil (the default), zero or negative: only when
    /// `RPCClient.reloadTLS()` asks. New connections use reloaded material; open ones keep theirs.
    public var reloadInterval: Duration? = nil

    /// No TLS.
    public static let plaintext = ClientTransportSecurity(mode: .plaintext, serverName: nil)

    /// TLS: the server's certificate is verified against `trustRoots` and its name checked.
    public static func tls(trustRoots: TLSTrustRoots = .system, serverName: String? = nil) -> Self {
        Self(mode: .tls(trustRoots: trustRoots, certificateChain: [], privateKey: nil), serverName: serverName)
    }

    /// Mutual TLS: as ``tls(trustRoots:serverName:)``, and the client presents its own chain (leaf first) and key.
    public static func mutualTLS(
        certificateChain: [TLSCertificateSource],
        privateKey: TLSPrivateKeySource,
        trustRoots: TLSTrustRoots = .system,
        serverName: String? = nil
    ) -> Self {
        Self(mode: .tls(trustRoots: trustRoots, certificateChain: certificateChain, privateKey: privateKey), serverName: serverName)
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
