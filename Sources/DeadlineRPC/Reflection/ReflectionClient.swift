/// Calls a server's reflection service (``ReflectionService``) through an ``RPCClient``.
///
/// ```swift
/// let reflection = ReflectionClient(client)
/// for method in try await reflection.listMethods().methods { print(method.name, method.kind) }
/// let greet = try await reflection.describeMethod("greeter.Greeter/Greet")
/// ```
public struct ReflectionClient: Sendable {
    /// `ListMethods` as a client calls it.
    static let listMethods = Method<ReflectionService.ListMethodsRequest, ReflectionListing>(
        ReflectionService.listMethodsName,
        kind: .unary,
        isIdempotent: true
    )
    /// `DescribeMethod` as a client calls it.
    static let describeMethod = Method<ReflectionService.DescribeMethodRequest, MethodDescriptor>(
        ReflectionService.describeMethodName,
        kind: .unary,
        isIdempotent: true
    )

    /// The client the calls go through (its interceptors, propagation and deadlines apply).
    public let client: RPCClient

    /// Creates a reflection client that calls through `client`.
    public init(_ client: RPCClient) {
        self.client = client
    }

    /// Every method the server serves and its health statuses.
    /// - Throws: `RPCError` — `unimplemented` when the server does not serve reflection, or whatever ended the call.
    public func listMethods(options: CallOptions = .default) async throws -> ReflectionListing {
        try await self.client.unary(Self.listMethods, ReflectionService.ListMethodsRequest(), options: options)
    }

    /// The descriptor of `method`.
    /// - Throws: `RPCError` — `notFound` when the server does not serve `method`, `unimplemented` when it does not
    ///   serve reflection, or whatever ended the call.
    public func describeMethod(_ method: String, options: CallOptions = .default) async throws -> MethodDescriptor {
        try await self.client.unary(Self.describeMethod, ReflectionService.DescribeMethodRequest(method: method), options: options)
    }
}
