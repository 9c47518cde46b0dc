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
    /// Set by ``addReflectionService()``: a server built from this router re-registers the reflection methods over
    /// its final method list.
    var servesReflection = false

    /// Creates an empty router.
    public init() {}

    /// The registered method names.
    public var methodNames: [String] { self.entries.keys.sorted() }

    /// The registered methods as reflection reports them, sorted by name.
    public var methods: [MethodDescriptor] { self.entries.values.map(\.descriptor).sorted { $0.name < $1.name } }

    /// Registers a unary handler: one request in, one response out.
    public mutating func unary<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (Request, CallContext) async throws -> Response
    ) {
        precondition(method.kind == .unary, "\(method.name) is \(method.kind), not unary")
        let codecs = CallCodecs(method)
        let name = method.name
        let unaryBody: @Sendable (ServerCall, CallContext) async throws -> ByteBuffer = { call, context in
            let (requestCodec, responseCodec, refusal) = codecs.select(call.context.metadata, method: name)
            if let refusal { throw refusal }
            return try call.encode(try await handler(try call.decodeFirst(requestCodec), context), responseCodec)
        }
        self.entries[method.name] = ServerMethodEntry(MethodDescriptor(method), unaryBody: unaryBody) { call, environment in
            let (requestCodec, responseCodec, refusal) = codecs.select(call.context.metadata, method: method.name)
            await call.respond(responseCodec, environment) { context in
                if let refusal { throw refusal }
                return try await handler(try call.decodeFirst(requestCodec), context)
            }
        }
    }

    /// Registers a server-streaming handler: one request in, a stream of responses written to the writer.
    public mutating func serverStreaming<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (Request, ResponseWriter<Response>, CallContext) async throws -> Void
    ) {
        precondition(method.kind == .serverStreaming, "\(method.name) is \(method.kind), not server-streaming")
        let codecs = CallCodecs(method)
        self.entries[method.name] = ServerMethodEntry(MethodDescriptor(method)) { call, environment in
            let (requestCodec, responseCodec, refusal) = codecs.select(call.context.metadata, method: method.name)
            await call.respondStreaming(environment) { context in
                if let refusal { throw refusal }
                let request = try call.decodeFirst(requestCodec)
                try await handler(request, ResponseWriter(call: call, codec: responseCodec), context)
            }
        }
    }

    /// Registers a client-streaming handler: a stream of requests in, one response out.
    public mutating func clientStreaming<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (RequestStream<Request>, CallContext) async throws -> Response
    ) {
        precondition(method.kind == .clientStreaming, "\(method.name) is \(method.kind), not client-streaming")
        let codecs = CallCodecs(method)
        self.entries[method.name] = ServerMethodEntry(MethodDescriptor(method)) { call, environment in
            let (requestCodec, responseCodec, refusal) = codecs.select(call.context.metadata, method: method.name)
            let requests = RequestStream(queue: call.requests!, codec: requestCodec)
            await call.respond(responseCodec, environment) { context in
                if let refusal { throw refusal }
                return try await handler(requests, context)
            }
        }
    }

    /// Registers a bidirectional handler: requests and responses stream both ways.
    public mutating func bidirectional<Request, Response>(
        _ method: Method<Request, Response>,
        handler: @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, CallContext) async throws -> Void
    ) {
        precondition(method.kind == .bidirectional, "\(method.name) is \(method.kind), not bidirectional")
        let codecs = CallCodecs(method)
        self.entries[method.name] = ServerMethodEntry(MethodDescriptor(method)) { call, environment in
            let (requestCodec, responseCodec, refusal) = codecs.select(call.context.metadata, method: method.name)
            let requests = RequestStream(queue: call.requests!, codec: requestCodec)
            let writer = ResponseWriter(call: call, codec: responseCodec)
            await call.respondStreaming(environment) { context in
                if let refusal { throw refusal }
                try await handler(requests, writer, context)
            }
        }
    }
}

extension Router {
    /// The same methods, each run inside `environment` (interceptors, trace extraction) and counted by its own
    /// instruments from `metrics`.
    func with(_ environment: HandlerEnvironment, metrics: ServerMetrics) -> Router {
        var copy = self
        if copy.servesReflection { copy.registerReflection() }
        for (name, entry) in copy.entries {
            copy.entries[name] = entry.with(environment, metrics: metrics.methodMetrics(for: name))
        }
        return copy
    }
}

/// A registered method, type-erased to bytes.
///
/// A class, immutable: every call takes its method's entry from the router into its stream, and a struct of five
/// references cost five retains and five releases per copy (three copies per call) and ~130 bytes in each stream.
final class ServerMethodEntry: Sendable {
    /// What reflection reports about the method.
    let descriptor: MethodDescriptor
    /// Runs a call of this method's general path: inside the environment's interceptors.
    let handle: @Sendable (ServerCall, HandlerEnvironment) async -> Void
    /// A unary method's handler with its codecs, bytes in and out: what ``ServerCall/respondUnary(_:_:)`` runs when
    /// no interceptor wraps the handler (nil for the streaming kinds).
    let unaryBody: (@Sendable (ServerCall, CallContext) async throws -> ByteBuffer)?
    /// Interceptors, trace extraction and propagated keys (set by ``Router/with(_:metrics:)``).
    let environment: HandlerEnvironment
    /// Set by ``Router/with(_:metrics:)`` when a server takes the router.
    let metrics: MethodMetrics?
    /// The call shape.
    let kind: CallKind
    /// What a handler task runs for one call: the flat unary path when no interceptor wraps the handler, else
    /// `handle` inside the environment. Built once per method, so a handler task need not capture the environment.
    let run: @Sendable (ServerCall) async -> Void

    convenience init(
        _ descriptor: MethodDescriptor,
        unaryBody: (@Sendable (ServerCall, CallContext) async throws -> ByteBuffer)? = nil,
        handle: @escaping @Sendable (ServerCall, HandlerEnvironment) async -> Void
    ) {
        self.init(descriptor, handle: handle, unaryBody: unaryBody, environment: HandlerEnvironment(), metrics: nil)
    }

    private init(
        _ descriptor: MethodDescriptor,
        handle: @escaping @Sendable (ServerCall, HandlerEnvironment) async -> Void,
        unaryBody: (@Sendable (ServerCall, CallContext) async throws -> ByteBuffer)?,
        environment: HandlerEnvironment,
        metrics: MethodMetrics?
    ) {
        self.descriptor = descriptor
        self.kind = descriptor.kind
        self.handle = handle
        self.unaryBody = unaryBody
        self.environment = environment
        self.metrics = metrics
        if environment.interceptors.isEmpty, let unaryBody {
            // No interceptor to run around the handler: the flat path, whose frames a parked handler holds.
            self.run = { call in await call.respondUnary(environment, unaryBody) }
        } else {
            self.run = { call in await handle(call, environment) }
        }
    }

    /// The same method run inside `environment` and counted by `metrics` (a new entry: routers are values, and the
    /// router this one came from keeps its own).
    func with(_ environment: HandlerEnvironment, metrics: MethodMetrics) -> ServerMethodEntry {
        ServerMethodEntry(self.descriptor, handle: self.handle, unaryBody: self.unaryBody, environment: environment, metrics: metrics)
    }
}
