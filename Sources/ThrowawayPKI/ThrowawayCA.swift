import Crypto
import DeadlineRPC
import Foundation
import SwiftASN1
import X509

/// A certificate authority made in memory for one run of a demo or a benchmark: a P-256 key and a self-signed CA
/// certificate, valid for a day. Demos and benchmarks only: the key lives in the process and is never stored, so
/// nothing it signs can be revoked, audited or trusted by anyone else (`docs/SECURITY.md`).
public struct ThrowawayCA: Sendable {
    /// The CA's common name.
    public let name: String
    /// The CA certificate (self-signed).
    public let certificate: Certificate
    /// The CA certificate as PEM text, to hand to peers as trust roots.
    public let certificatePEM: String
    private let key: Certificate.PrivateKey

    /// Creates a CA named `name`, valid from an hour ago (clocks drift) for `validity`.
    public init(name: String = "DeadlineRPC throwaway CA", validity: Duration = .seconds(24 * 3600)) throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("DeadlineRPC demo")
            CommonName(name)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + Self.seconds(validity),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        self.name = name
        self.key = Certificate.PrivateKey(key)
        self.certificate = certificate
        self.certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// The CA as trust roots for ``ClientTransportSecurity`` or mutual TLS's client roots.
    public var trustRoots: TLSTrustRoots { .certificates([.pem(self.certificatePEM)]) }

    /// Issues a leaf certificate for a service or a client: `commonName` as the subject, `dnsNames` and
    /// `ipAddresses` (IPv4 dotted or IPv6 text) as subject alternative names, usable for both server and client
    /// authentication, valid from an hour ago for `validity` (never beyond the CA's own validity).
    /// Throws ``ThrowawayPKIError`` for an IP address that does not parse or a certificate without any name.
    public func issue(
        commonName: String,
        dnsNames: [String] = [],
        ipAddresses: [String] = [],
        validity: Duration = .seconds(24 * 3600)
    ) throws -> ThrowawayIdentity {
        guard !dnsNames.isEmpty || !ipAddresses.isEmpty else {
            throw ThrowawayPKIError("A certificate for '\(commonName)' needs at least one DNS name or IP address: clients check the name they connect to against its SANs.")
        }
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let bytes = Self.ipBytes(address) else {
                throw ThrowawayPKIError("'\(address)' is not an IPv4 or IPv6 address (a certificate's IP SAN).")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let notAfter = min(now + Self.seconds(validity), self.certificate.notValidAfter)
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: notAfter,
            issuer: self.certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("DeadlineRPC demo")
                CommonName(commonName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: self.key
        )
        return ThrowawayIdentity(
            commonName: commonName,
            certificate: certificate,
            certificatePEM: try certificate.serializeAsPEM().pemString,
            privateKeyPEM: key.pemRepresentation,
            caCertificatePEM: self.certificatePEM
        )
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    /// The address's network-order bytes: 4 for IPv4, 16 for IPv6; nil when it is neither.
    static func ipBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
