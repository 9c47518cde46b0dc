/// What a client reaches: one address, a fixed list of replicas, or a DNS name whose records are the replicas.
///
/// ```swift
/// let orders = RPCClient(target: .dns("orders.default.svc.cluster.local", port: 7000))
/// let fixed = RPCClient(target: try Target(parsing: "10.0.0.5:7000,10.0.0.6:7000"))
/// ```
public struct Target: Sendable, Hashable, CustomStringConvertible {
    /// The forms a target takes.
    public enum Kind: Sendable, Hashable {
        /// These endpoints, never re-resolved (a name among them is resolved by each connection attempt).
        case endpoints([Endpoint])
        /// Every address of `host` (A and AAAA), re-resolved on the client's refresh interval and at once when a
        /// connection fails; one connection per address.
        case dns(host: String, port: Int)
    }

    /// Which form this target has.
    public let kind: Kind

    /// A target of one kind.
    public init(kind: Kind) {
        self.kind = kind
    }

    /// One server at `host:port` (what `RPCClient(host:port:)` makes).
    public static func host(_ host: String, port: Int) -> Target {
        Target(kind: .endpoints([Endpoint(host: host, port: port)]))
    }

    /// A fixed list of replicas.
    public static func endpoints(_ endpoints: [Endpoint]) -> Target {
        Target(kind: .endpoints(endpoints))
    }

    /// Every replica behind a DNS name: one connection per A/AAAA record, followed as the records change.
    public static func dns(_ host: String, port: Int) -> Target {
        Target(kind: .dns(host: host, port: port))
    }

    /// Parses `dns:///NAME:PORT` (or `dns:NAME:PORT`), `HOST:PORT`, or a comma-separated list of `HOST:PORT`;
    /// an IPv6 literal goes in brackets (`[::1]:7000`).
    public init(parsing text: String) throws {
        var rest = Substring(text)
        if rest.hasPrefix("dns:") {
            rest = rest.dropFirst(4)
            if rest.hasPrefix("//") {
                // dns://AUTHORITY/NAME: a DNS server named in the target is not supported; the resolver decides.
                rest = rest.dropFirst(2)
                guard let slash = rest.firstIndex(of: "/") else {
                    throw TargetParseError(text: text, reason: "expected dns:///NAME:PORT")
                }
                guard rest[..<slash].isEmpty else {
                    throw TargetParseError(text: text, reason: "a DNS server in the target (dns://SERVER/…) is not supported; set RPCClient.Configuration.resolver")
                }
                rest = rest[rest.index(after: slash)...]
            }
            let endpoint = try Self.endpoint(rest, in: text)
            self.init(kind: .dns(host: endpoint.host, port: endpoint.port))
            return
        }
        let parts = rest.split(separator: ",", omittingEmptySubsequences: false)
        self.init(kind: .endpoints(try parts.map { try Self.endpoint($0, in: text) }))
    }

    /// `HOST:PORT` or `[V6]:PORT`.
    private static func endpoint(_ text: Substring, in whole: String) throws -> Endpoint {
        let trimmed = text.trimmingPrefixAndSuffixSpaces()
        guard let colon = trimmed.lastIndex(of: ":") else {
            throw TargetParseError(text: whole, reason: "'\(trimmed)' has no port (HOST:PORT)")
        }
        var host = trimmed[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        } else if host.contains(":") {
            throw TargetParseError(text: whole, reason: "an IPv6 address goes in brackets: [\(host)]:PORT")
        }
        guard !host.isEmpty else { throw TargetParseError(text: whole, reason: "'\(trimmed)' has no host") }
        guard let port = Int(trimmed[trimmed.index(after: colon)...]), (0...65_535).contains(port) else {
            throw TargetParseError(text: whole, reason: "'\(trimmed[trimmed.index(after: colon)...])' is not a port")
        }
        return Endpoint(host: String(host), port: port)
    }

    /// The target in the syntax ``init(parsing:)`` reads.
    public var description: String {
        switch self.kind {
        case .endpoints(let endpoints): return endpoints.map(\.description).joined(separator: ",")
        case .dns(let host, let port): return "dns:///\(Endpoint(host: host, port: port))"
        }
    }
}

/// A target string that does not parse, with the reason.
public struct TargetParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    /// "Invalid target 'TEXT': REASON".
    public var description: String { "Invalid target '\(self.text)': \(self.reason)" }
}

extension Substring {
    fileprivate func trimmingPrefixAndSuffixSpaces() -> Substring {
        var result = self
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return result
    }
}
