/// Where certificates come from: PEM text or a PEM file (either may hold a whole chain, leaf first), or DER bytes.
public enum TLSCertificateSource: Sendable, Hashable {
    /// PEM text with one or more certificates.
    case pem(String)
    /// A PEM file with one or more certificates, read when the server starts or the client first connects, and again at each reload.
    case pemFile(String)
    /// One DER-encoded certificate.
    case der([UInt8])
}
