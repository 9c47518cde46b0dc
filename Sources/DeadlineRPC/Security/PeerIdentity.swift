import X509

/// Who the peer proved to be in the TLS handshake: its verified certificate's subject and subject alternative
/// names, and the certificates it presented. Seen by handlers and interceptors as ``CallContext/peer`` (the client),
/// and by callers as ``ClientResponse/peer`` (the server).
public struct PeerIdentity: Sendable, Hashable {
    /// The certificate's subject as an RFC 4514 string, e.g. `CN=orders,O=Example`.
    public var subject: String {
        get { self.storage.subject }
        set { self.storage = self.storage.with { $0.subject = newValue } }
    }
    /// DNS-name SANs, e.g. `orders.prod.example.org`.
    public var dnsNames: [String] {
        get { self.storage.dnsNames }
        set { self.storage = self.storage.with { $0.dnsNames = newValue } }
    }
    /// URI SANs, e.g. SPIFFE ids such as `spiffe://example.org/ns/prod/sa/orders`.
    public var uris: [String] {
        get { self.storage.uris }
        set { self.storage = self.storage.with { $0.uris = newValue } }
    }
    /// IP-address SANs, in text form (`10.0.0.7`, `::1`).
    public var ipAddresses: [String] {
        get { self.storage.ipAddresses }
        set { self.storage = self.storage.with { $0.ipAddresses = newValue } }
    }
    /// The peer's certificates in DER, leaf first (for callers who need more than the names).
    public var certificateChain: [[UInt8]] {
        get { self.storage.certificateChain }
        set { self.storage = self.storage.with { $0.certificateChain = newValue } }
    }

    /// The fields behind one immutable reference (a setter makes a new one): every call over a TLS connection
    /// carries its peer's identity (in its context, its reply), and five fields inline made each copy 48 bytes larger.
    private var storage: Storage

    /// Creates an identity (tests and custom transports; the runtime builds it from the handshake).
    public init(subject: String, dnsNames: [String] = [], uris: [String] = [], ipAddresses: [String] = [], certificateChain: [[UInt8]] = []) {
        self.storage = Storage(Fields(subject: subject, dnsNames: dnsNames, uris: uris, ipAddresses: ipAddresses, certificateChain: certificateChain))
    }

    /// Equal when every field is.
    public static func == (lhs: PeerIdentity, rhs: PeerIdentity) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    /// Hashes every field.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.storage.fields)
    }

    /// The five fields as a value.
    private struct Fields: Hashable, Sendable {
        var subject: String
        var dnsNames: [String]
        var uris: [String]
        var ipAddresses: [String]
        var certificateChain: [[UInt8]]
    }

    /// Immutable, hence `Sendable`.
    private final class Storage: Sendable {
        let fields: Fields
        var subject: String { self.fields.subject }
        var dnsNames: [String] { self.fields.dnsNames }
        var uris: [String] { self.fields.uris }
        var ipAddresses: [String] { self.fields.ipAddresses }
        var certificateChain: [[UInt8]] { self.fields.certificateChain }

        init(_ fields: Fields) { self.fields = fields }

        /// A new storage with `change` applied to a copy of the fields.
        func with(_ change: (inout Fields) -> Void) -> Storage {
            var fields = self.fields
            change(&fields)
            return Storage(fields)
        }
    }

    /// Reads the identity from a DER chain, leaf first; nil when the leaf cannot be parsed.
    init?(derChain: [[UInt8]]) {
        guard let leafBytes = derChain.first, let leaf = try? Certificate(derEncoded: leafBytes) else { return nil }
        var fields = Fields(subject: leaf.subject.description, dnsNames: [], uris: [], ipAddresses: [], certificateChain: derChain)
        if let names = try? leaf.extensions.subjectAlternativeNames {
            for name in names {
                switch name {
                case .dnsName(let dns): fields.dnsNames.append(dns)
                case .uniformResourceIdentifier(let uri): fields.uris.append(uri)
                case .ipAddress(let octets): fields.ipAddresses.append(Self.text(ofIP: Array(octets.bytes)))
                default: continue
                }
            }
        }
        self.storage = Storage(fields)
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
