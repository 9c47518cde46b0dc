import Crypto
import DeadlineRPC
import Foundation
import SwiftASN1
import X509

/// Certificates made in the test process (nothing with a private key is committed): a CA, certificates it issues,
/// and a second, untrusted CA.
struct TestCA: Sendable {
    let name: String
    let key: Certificate.PrivateKey
    let certificate: Certificate

    init(name: String = "DeadlineRPC Test CA") throws {
        self.name = name
        let key = P256.Signing.PrivateKey()
        self.key = Certificate.PrivateKey(key)
        let subject = try DistinguishedName { CommonName(name) }
        let now = Date()
        self.certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 24 * 3600,
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: self.key
        )
    }

    /// The CA as trust roots.
    var trustRoots: TLSTrustRoots {
        get throws { .certificates([.pem(try self.certificate.serializeAsPEM().pemString)]) }
    }

    /// A leaf certificate issued by this CA, valid from `validFrom` to `validUntil` (relative to now).
    func issue(
        commonName: String,
        dnsNames: [String] = [],
        uris: [String] = [],
        ipv4: [[UInt8]] = [],
        validFrom: TimeInterval = -3600,
        validUntil: TimeInterval = 24 * 3600
    ) throws -> TestIdentity {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        names += uris.map { .uniformResourceIdentifier($0) }
        names += ipv4.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now + validFrom,
            notValidAfter: now + validUntil,
            issuer: self.certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("DeadlineRPC Tests")
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
        return TestIdentity(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            keyPEM: key.pemRepresentation,
            der: try certificate.serializeAsPEM().derBytes
        )
    }
}

/// A certificate and its key, as PEM text.
struct TestIdentity: Sendable {
    let certificatePEM: String
    let keyPEM: String
    let der: [UInt8]

    var serverSecurity: ServerTransportSecurity {
        .tls(certificateChain: [.pem(self.certificatePEM)], privateKey: .pem(self.keyPEM))
    }

    func mutualServerSecurity(clientRoots: TLSTrustRoots) -> ServerTransportSecurity {
        .mutualTLS(certificateChain: [.pem(self.certificatePEM)], privateKey: .pem(self.keyPEM), clientTrustRoots: clientRoots)
    }

    func mutualClientSecurity(trustRoots: TLSTrustRoots, serverName: String? = nil) -> ClientTransportSecurity {
        .mutualTLS(certificateChain: [.pem(self.certificatePEM)], privateKey: .pem(self.keyPEM), trustRoots: trustRoots, serverName: serverName)
    }
}
