/// Allows a call only when the client's verified TLS certificate (mutual TLS, ``CallContext/peer``) carries an
/// allowed subject alternative name: an exact DNS name, or a URI starting with an allowed prefix (SPIFFE ids).
/// A call without a client certificate fails `unauthenticated`; one whose names are not allowed, `permissionDenied`.
///
/// ```swift
/// configuration.interceptors = [SANAuthorizationInterceptor(uriPrefixes: ["spiffe://example.org/ns/prod/"])]
/// ```
public struct SANAuthorizationInterceptor: ServerInterceptor {
    /// DNS-name SANs allowed, compared exactly (ASCII case-insensitively).
    public var dnsNames: Set<String>
    /// URI SAN prefixes allowed, e.g. `spiffe://example.org/ns/prod/` (end a path prefix with `/` so that
    /// `…/prod/` does not also allow `…/production/`).
    public var uriPrefixes: [String]
    /// Methods served to any peer (health checks, for instance).
    public var exemptMethods: Set<String>

    /// Allows peers with one of `dnsNames` or a URI starting with one of `uriPrefixes`.
    public init(dnsNames: Set<String> = [], uriPrefixes: [String] = [], exemptMethods: Set<String> = []) {
        self.dnsNames = Set(dnsNames.map { $0.lowercased() })
        self.uriPrefixes = uriPrefixes
        self.exemptMethods = exemptMethods
    }

    /// Checks the peer's names, then runs the handler.
    public func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        if self.exemptMethods.contains(context.method) {
            return try await next(context)
        }
        guard let peer = context.peer else {
            throw RPCError(
                code: .unauthenticated,
                message: "The call came without a verified client certificate; \(context.method) needs mutual TLS."
            )
        }
        let allowed =
            peer.dnsNames.contains { self.dnsNames.contains($0.lowercased()) }
            || peer.uris.contains { uri in self.uriPrefixes.contains { uri.hasPrefix($0) } }
        guard allowed else {
            let names = (peer.dnsNames.map { "DNS:\($0)" } + peer.uris.map { "URI:\($0)" }).joined(separator: ", ")
            throw RPCError(
                code: .permissionDenied,
                message: "The client certificate (\(peer.subject); \(names.isEmpty ? "no DNS or URI names" : names)) is not allowed to call \(context.method)."
            )
        }
        try await next(context)
    }
}
