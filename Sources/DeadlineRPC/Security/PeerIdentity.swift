import X509

/// Who the peer proved to be in the TLS handshake: its verified certificate's subject and subject alternative
/// names, and the certificates it presented. Seen by handlers and interceptors as ``CallContext/peer`` (the client),
/// and by callers as ``ClientResponse/peer`` (the server).
public struct PeerIdentity: Sendable, Hashable {
    /// The certificate's subject as an RFC 4514 string, e.g. `CN=orders,O=Example`.
    public var subject: String {
        get { self.storage.subject }
        set { self.unique().subject = newValue }
    }
    /// DNS-name SANs, e.g. `orders.prod.example.org`.
    public var dnsNames: [String] {
        get { self.storage.dnsNames }
        set { self.unique().dnsNames = newValue }
    }
    /// URI SANs, e.g. SPIFFE ids such as `spiffe://example.org/ns/prod/sa/orders`.
    public var uris: [String] {
        get { self.storage.uris }
        set { self.unique().uris = newValue }
    }
    /// IP-address SANs, in text form (`10.0.0.7`, `::1`).
    public var ipAddresses: [String] {
        get { self.storage.ipAddresses }
        set { self.unique().ipAddresses = newValue }
    }
    /// The peer's certificates in DER, leaf first (for callers who need more than the names).
    public var certificateChain: [[UInt8]] {
        get { self.storage.certificateChain }
        set { self.unique().certificateChain = newValue }
    }

    /// The fields behind one reference, copied on write: every call over a TLS connection carries its peer's
    /// identity (in its context, its reply), and five fields inline made each of those copies 48 bytes larger.
    private var storage: Storage

    /// Creates an identity (tests and custom transports; the runtime builds it from the handshake).
    public init(subject: String, dnsNames: [String] = [], uris: [String] = [], ipAddresses: [String] = [], certificateChain: [[UInt8]] = []) {
        self.storage = Storage(subject: subject, dnsNames: dnsNames, uris: uris, ipAddresses: ipAddresses, certificateChain: certificateChain)
    }

    /// Equal when every field is.
    public static func == (lhs: PeerIdentity, rhs: PeerIdentity) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    /// Hashes every field.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.storage.fields)
    }

    /// The storage, copied first when another identity shares it.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&self.storage) {
            self.storage = Storage(copying: self.storage)
        }
        return self.storage
    }

    /// Mutable only through ``unique()``, which copies a shared one first; so a `Storage` reachable from more than one
    /// identity is never written, and reading it from several threads is safe (`@unchecked Sendable` for that reason).
    private final class Storage: @unchecked Sendable {
        var subject: String
        var dnsNames: [String]
        var uris: [String]
        var ipAddresses: [String]
        var certificateChain: [[UInt8]]

        init(subject: String, dnsNames: [String], uris: [String], ipAddresses: [String], certificateChain: [[UInt8]]) {
            self.subject = subject
            self.dnsNames = dnsNames
            self.uris = uris
            self.ipAddresses = ipAddresses
            self.certificateChain = certificateChain
        }

        convenience init(copying other: Storage) {
            self.init(subject: other.subject, dnsNames: other.dnsNames, uris: other.uris, ipAddresses: other.ipAddresses, certificateChain: other.certificateChain)
        }

        struct Fields: Hashable {
            var subject: String
            var dnsNames: [String]
            var uris: [String]
            var ipAddresses: [String]
            var certificateChain: [[UInt8]]
        }

        var fields: Fields {
            Fields(subject: self.subject, dnsNames: self.dnsNames, uris: self.uris, ipAddresses: self.ipAddresses, certificateChain: self.certificateChain)
        }
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
