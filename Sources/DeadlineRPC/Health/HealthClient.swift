/// Calls a server's health service (``HealthService``) through an ``RPCClient``.
///
/// ```swift
/// let health = HealthClient(client)
/// let status = try await health.check(service: "orders.Orders", options: CallOptions(timeout: .seconds(1)))
/// try await health.watch(service: "orders.Orders") { statuses in
///     for try await status in statuses { print(status) }   // SERVING, then each change
/// }
/// ```
public struct HealthClient: Sendable {
    /// The `Check` method as a client calls it: a service name in, its status out.
    static let check = Method<String, ServingStatus>(
        HealthService.checkMethodName,
        kind: .unary,
        requestCodec: HealthCheckRequestCodec(),
        responseCodec: HealthCheckResponseCodec(),
        isIdempotent: true
    )
    /// The `Watch` method as a client calls it: a service name in, a stream of statuses out.
    static let watch = Method<String, ServingStatus>(
        HealthService.watchMethodName,
        kind: .serverStreaming,
        requestCodec: HealthCheckRequestCodec(),
        responseCodec: HealthCheckResponseCodec()
    )

    /// The client the calls go through (its interceptors, propagation and deadlines apply).
    public let client: RPCClient

    /// Creates a health client that calls through `client`.
    public init(_ client: RPCClient) {
        self.client = client
    }

    /// The status of `service` (`""`: the server as a whole).
    /// - Throws: `RPCError` — `notFound` when the server has no status for the name, `unimplemented` when it serves
    ///   no health service, or whatever ended the call.
    public func check(service: String = "", options: CallOptions = .default) async throws -> ServingStatus {
        try await self.client.unary(Self.check, service, options: options)
    }

    /// Watches `service` (`""`: the server as a whole): `body` reads its status at once, then each change (a name
    /// with no status reads `SERVICE_UNKNOWN`, and the watch stays open). The stream ends without error after the
    /// server's final `NOT_SERVING` when it shuts down; leaving `body` early cancels the watch.
    public func watch<Result>(
        service: String = "",
        options: CallOptions = .default,
        _ body: (ResponseStream<ServingStatus>) async throws -> Result
    ) async throws -> Result {
        try await self.client.serverStreaming(Self.watch, service, options: options, body)
    }
}
