/// The certificate authorities a peer's certificate must chain to.
public enum TLSTrustRoots: Sendable, Hashable {
    /// The system's trust store.
    case system
    /// Only these certificates (for a private CA, and for mutual TLS).
    case certificates([TLSCertificateSource])
}
