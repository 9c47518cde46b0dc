/// Client-side health checking: the client watches each endpoint's health service (``HealthService``, over one
/// `Watch` stream per connection) and picks only endpoints whose status is `SERVING`.
///
/// A new connection takes calls once its first status says `SERVING` (calls wait for it within their deadlines);
/// `NOT_SERVING` — including the one a server sends when its graceful shutdown begins — takes the endpoint out of
/// the pick at once, and `SERVING` brings it back. A server without a health service (`unimplemented`), or one that
/// refuses the watch (`unauthenticated`, `permissionDenied`: interceptors do not apply to the runtime's own watch),
/// is treated as serving.
public struct HealthChecking: Sendable, Hashable {
    /// The service name whose status is watched (`""`: the server as a whole).
    public var service: String

    /// Watches `service` on every endpoint.
    public init(service: String = "") {
        self.service = service
    }
}
