import Foundation
import Testing
import ThrowawayPKI
import X509

/// The throwaway CA's certificates, checked by swift-certificates' own RFC 5280 verifier: they chain to the CA,
/// carry exactly the SANs asked for, are valid now and not beyond the CA, and a bad SAN is refused with a reason.
@Suite("Throwaway PKI")
struct ThrowawayPKITests {
    @Test("A service certificate chains to its CA and names its DNS names and IPs")
    func chainsAndNames() async throws {
        let ca = try ThrowawayCA()
        let identity = try ca.issue(commonName: "pricing", dnsNames: ["pricing.demo.test", "localhost"], ipAddresses: ["127.0.0.1", "::1"])
        let leaf = try Certificate(pemEncoded: identity.certificatePEM)

        #expect(try leaf.extensions.subjectAlternativeNames?.count == 4)
        #expect(leaf.issuer == ca.certificate.subject)
        #expect(leaf.subject.description.contains("CN=pricing"))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try ca.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let now = Date()
        #expect(leaf.notValidBefore < now && now < leaf.notValidAfter)
        #expect(leaf.notValidAfter <= ca.certificate.notValidAfter)

        for (host, ip) in [("pricing.demo.test", nil), ("localhost", nil), (nil, "127.0.0.1"), (nil, "::1")] as [(String?, String?)] {
            var verifier = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: host, serverIP: ip)
            }
            let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
            guard case .validCertificate(let chain) = result else {
                Issue.record("\(host ?? ip ?? "") did not verify: \(result)")
                continue
            }
            #expect(chain.count == 2)
            #expect(chain.last == ca.certificate)
        }
    }

    @Test("A name the certificate lacks, or another CA, does not verify")
    func refusals() async throws {
        let ca = try ThrowawayCA()
        let other = try ThrowawayCA(name: "another throwaway CA")
        let leaf = try Certificate(pemEncoded: try ca.issue(commonName: "fraud", dnsNames: ["fraud.demo.test"]).certificatePEM)

        var wrongName = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: "pricing.demo.test", serverIP: nil)
        }
        guard case .couldNotValidate = await wrongName.validate(leaf: leaf, intermediates: CertificateStore()) else {
            Issue.record("a certificate for fraud.demo.test verified as pricing.demo.test")
            return
        }
        var wrongCA = Verifier(rootCertificates: CertificateStore([other.certificate])) {
            RFC5280Policy()
        }
        guard case .couldNotValidate = await wrongCA.validate(leaf: leaf, intermediates: CertificateStore()) else {
            Issue.record("a certificate verified against a CA that did not issue it")
            return
        }
    }

    @Test("Validity is capped by the CA's; bad SANs are refused with a reason")
    func validityAndErrors() throws {
        let ca = try ThrowawayCA(validity: .seconds(3_600))
        let leaf = try ca.issue(commonName: "gateway", dnsNames: ["gateway.demo.test"], validity: .seconds(7 * 24 * 3_600))
        #expect(leaf.certificate.notValidAfter == ca.certificate.notValidAfter)

        #expect(throws: ThrowawayPKIError.self) { try ca.issue(commonName: "nameless") }
        let error = #expect(throws: ThrowawayPKIError.self) { try ca.issue(commonName: "x", ipAddresses: ["10.0.0.300"]) }
        #expect(error?.description == "'10.0.0.300' is not an IPv4 or IPv6 address (a certificate's IP SAN).")
    }

    @Test("Files: the key is written owner-only, beside the certificate and the CA")
    func files() throws {
        let ca = try ThrowawayCA()
        let identity = try ca.issue(commonName: "catalog", dnsNames: ["catalog.demo.test"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("throwaway-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = try identity.write(to: directory, name: "catalog")
        let permissions = try FileManager.default.attributesOfItem(atPath: files.privateKey)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(try String(contentsOfFile: files.certificate, encoding: .utf8) == identity.certificatePEM)
        #expect(try String(contentsOfFile: files.ca, encoding: .utf8) == ca.certificatePEM)
        #expect(try String(contentsOfFile: files.privateKey, encoding: .utf8) == identity.privateKeyPEM)
    }
}
