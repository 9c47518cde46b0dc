import X509

/// Who the peer proved to be in the TLS handshake: its verified certificate's subject and subject alternative
/// names, and the certificates it presented. Seen by handlers and interceptors as ``CallContext/peer`` (the client),
/// and by callers as ``ClientResponse/peer`` (the server).
public struct PeerIdentity: Sendable, Hashable {
    /// The certificate's subject as an RFC 4514 string, e.g. `CN=orders,O=Example`.
    public var subject: String
    /// DNS-name SANs, e.g. `orders.prod.example.org`.
    public var dnsNames: [String]
    /// URI SANs, e.g. SPIFFE ids such as `spiffe://example.org/ns/prod/sa/orders`.
    public var uris: [String]
    /// IP-address SANs, in text form (`10.0.0.7`, `::1`).
    public var ipAddresses: [String]
    /// The peer's certificates in DER, leaf first (for callers who need more than the names).
    public var certificateChain: [[UInt8]]

    /// Creates an identity (tests and custom transports; the runtime builds it from the handshake).
    public init(subject: String, dnsNames: [String] = [], uris: [String] = [], ipAddresses: [String] = [], certificateChain: [[UInt8]] = []) {
        self.subject = subject
        self.dnsNames = dnsNames
        self.uris = uris
        self.ipAddresses = ipAddresses
        self.certificateChain = certificateChain
    }

    /// Reads the identity from a DER chain, leaf first; nil when the leaf cannot be parsed.
    init?(derChain: [[UInt8]]) {
        guard let leafBytes = derChain.first, let leaf = try? Certificate(derEncoded: leafBytes) else { return nil }
        self.init(subject: leaf.subject.description, certificateChain: derChain)
        guard let names = try? leaf.extensions.subjectAlternativeNames else { return }
        for name in names {
            switch name {
            case .dnsName(let dns): self.dnsNames.append(dns)
            case .uniformResourceIdentifier(let uri): self.uris.append(uri)
            case .ipAddress(let octets): self.ipAddresses.append(Self.text(ofIP: Array(octets.bytes)))
            default: continue
            }
        }
    }

    private static func text(ofIP bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        if bytes.count == 16 {
            // Full form, lower-case, no zero compression except all-zero groups shown as "0": unambiguous to compare.
            var groups: [String] = []
            for index in stride(from: 0, to: 16, by: 2) {
                groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16))
            }
            return groups.joined(separator: ":")
        }
        return bytes.map { String($0, radix: 16) }.joined(separator: ":")
    }
}
