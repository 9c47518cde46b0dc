/// Where ``ThrowawayIdentity/write(to:name:)`` put a certificate, its key and the CA certificate.
public struct ThrowawayFiles: Sendable, Hashable {
    /// The certificate (PEM).
    public var certificate: String
    /// The private key (PEM, mode 0600).
    public var privateKey: String
    /// The CA certificate (PEM), the trust root.
    public var ca: String

    /// Creates the set of paths.
    public init(certificate: String, privateKey: String, ca: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.ca = ca
    }
}
