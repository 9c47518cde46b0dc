/// Where a private key comes from: PEM text or a PEM file.
public enum TLSPrivateKeySource: Sendable, Hashable {
    /// PEM text of the key (PKCS#8, SEC1 or PKCS#1).
    case pem(String)
    /// A PEM file holding the key, read when the server starts or the client first connects, and again at each reload.
    case pemFile(String)
}
