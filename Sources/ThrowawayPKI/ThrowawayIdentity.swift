import DeadlineRPC
import Foundation
import X509

/// A leaf certificate, its private key and the CA that issued it, ready to configure a server or a client.
public struct ThrowawayIdentity: Sendable {
    /// The certificate's common name (usually the service's name).
    public let commonName: String
    /// The certificate.
    public let certificate: Certificate
    /// The certificate as PEM text.
    public let certificatePEM: String
    /// The private key as PEM text (PKCS#8). Never written anywhere unless ``write(to:)`` is asked to.
    public let privateKeyPEM: String
    /// The issuing CA's certificate as PEM text.
    public let caCertificatePEM: String

    /// Server settings: TLS with this certificate.
    public var serverSecurity: ServerTransportSecurity {
        .tls(certificateChain: [.pem(self.certificatePEM)], privateKey: .pem(self.privateKeyPEM))
    }

    /// Server settings: mutual TLS with this certificate, requiring client certificates from the same CA.
    public var mutualServerSecurity: ServerTransportSecurity {
        .mutualTLS(
            certificateChain: [.pem(self.certificatePEM)],
            privateKey: .pem(self.privateKeyPEM),
            clientTrustRoots: .certificates([.pem(self.caCertificatePEM)])
        )
    }

    /// Client settings: TLS trusting only the issuing CA, checking `serverName` (nil: the target's host).
    public func clientSecurity(serverName: String? = nil) -> ClientTransportSecurity {
        .tls(trustRoots: .certificates([.pem(self.caCertificatePEM)]), serverName: serverName)
    }

    /// Writes `<name>.pem`, `<name>.key` (mode 0600) and `ca.pem` into `directory` (which should be private to the
    /// run), for child processes that read them by path; returns the three paths.
    @discardableResult
    public func write(to directory: URL, name: String) throws -> ThrowawayFiles {
        let files = ThrowawayFiles(
            certificate: directory.appendingPathComponent("\(name).pem").path,
            privateKey: directory.appendingPathComponent("\(name).key").path,
            ca: directory.appendingPathComponent("ca.pem").path
        )
        let manager = FileManager.default
        guard manager.createFile(atPath: files.privateKey, contents: Data(self.privateKeyPEM.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ThrowawayPKIError("Cannot write the private key to \(files.privateKey).")
        }
        try Data(self.certificatePEM.utf8).write(to: URL(fileURLWithPath: files.certificate))
        try Data(self.caCertificatePEM.utf8).write(to: URL(fileURLWithPath: files.ca))
        return files
    }
}
