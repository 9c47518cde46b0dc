import Wire
import NIOCore

/// The methods a server serves, each with its handler.
///
/// ```swift
/// var router = Router()
/// router.unary(greet) { request, context in
///     Greeting(text: "Hello, \(request.text)")
/// }
/// ```
/// Every handler runs in its own task, with ``CallContext/current`` set; outbound calls made from it inherit its
/// deadline and are cancelled with it.
public struct Router: Sendable {
    var entries: [String: ServerMethodEntry] = [:]
    /// Health services registered with ``addHealthService(_:)``: a server built from this router shuts them down
    /// first when its graceful shutdown begins.
    var healthServices: [HealthService] = []

    /// Creates an empty router.
    public init() {}

    /// The registered method names.
    public var methodNames: [String] { self.entries.keys.sorted() }

    /// Registers a unary handler: one request in, one response out.
    public mutating func unary<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (Request, CallContext) async throws -> Response
    ) {
        precondition(method.kind == .unary, "\(method.name) is \(method.kind), not unary")
        self.entries[method.name] = ServerMethodEntry(kind: .unary) { call, environment in
            await call.respond(method.responseCodec, environment) { context in
                try await handler(try call.decodeFirst(method.requestCodec), context)
            }
        }
    }

    /// Registers a server-streaming handler: one request in, a stream of responses written to the writer.
    public mutating func serverStreaming<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (Request, ResponseWriter<Response>, CallContext) async throws -> Void
    ) {
        precondition(method.kind == .serverStreaming, "\(method.name) is \(method.kind), not server-streaming")
        self.entries[method.name] = ServerMethodEntry(kind: .serverStreaming) { call, environment in
            await call.respondStreaming(environment) { context in
                let request = try call.decodeFirst(method.requestCodec)
                try await handler(request, ResponseWriter(call: call, codec: method.responseCodec), context)
            }
        }
    }

    /// Registers a client-streaming handler: a stream of requests in, one response out.
    public mutating func clientStreaming<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (RequestStream<Request>, CallContext) async throws -> Response
    ) {
        precondition(method.kind == .clientStreaming, "\(method.name) is \(method.kind), not client-streaming")
        self.entries[method.name] = ServerMethodEntry(kind: .clientStreaming) { call, environment in
            let requests = RequestStream(queue: call.requests!, codec: method.requestCodec)
            await call.respond(method.responseCodec, environment) { context in try await handler(requests, context) }
        }
    }

    /// Registers a bidirectional handler: requests and responses stream both ways.
    public mutating func bidirectional<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, CallContext) async throws -> Void
    ) {
        precondition(method.kind == .bidirectional, "\(method.name) is \(method.kind), not bidirectional")
        self.entries[method.name] = ServerMethodEntry(kind: .bidirectional) { call, environment in
            let requests = RequestStream(queue: call.requests!, codec: method.requestCodec)
            let writer = ResponseWriter(call: call, codec: method.responseCodec)
            await call.respondStreaming(environment) { context in try await handler(requests, writer, context) }
        }
    }
}

extension Router {
    /// The same methods, each run inside `environment` (interceptors, trace extraction) and counted by its own
    /// instruments from `metrics`.
    func with(_ environment: HandlerEnvironment, metrics: ServerMetrics) -> Router {
        var copy = self
        for name in copy.entries.keys {
            copy.entries[name]!.environment = environment
            copy.entries[name]!.metrics = metrics.methodMetrics(for: name)
        }
        return copy
    }
}

/// A registered method, type-erased to bytes.
struct ServerMethodEntry: Sendable {
    let kind: CallKind
    let handle: @Sendable (ServerCall, HandlerEnvironment) async -> Void
    var environment = HandlerEnvironment()
    /// Set by ``Router/with(_:metrics:)`` when a server takes the router.
    var metrics: MethodMetrics?

    init(kind: CallKind, handle: @escaping @Sendable (ServerCall, HandlerEnvironment) async -> Void) {
        self.kind = kind
        self.handle = handle
    }
}
