/// Finds every replica behind a name: each address a DNS name has (A and AAAA records), as endpoints.
///
/// A client made for a ``Target/dns(_:port:)`` target asks its resolver again on every refresh interval and at
/// once when a connection fails; a failure keeps the last good set. The default is ``SystemResolver`` (the
/// platform's resolver, `getaddrinfo`); ``DNSResolver`` asks one DNS server directly.
public protocol NameResolver: Sendable {
    /// Every address `host` has now, each with `port`; throws when the name cannot be resolved. Must not block
    /// the calling thread (an event loop may be waiting on a task that awaits it).
    func resolve(host: String, port: Int) async throws -> [Endpoint]
}
