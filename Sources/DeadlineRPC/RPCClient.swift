import Instrumentation
import Logging
import NIOCore
import NIOPosix
import Wire

/// A DeadlineRPC client: one multiplexed TCP connection to each endpoint of its target — one server, a list of
/// replicas, or every address of a DNS name — opened on the first call and reopened with backoff when it drops.
/// Each call goes to one ready endpoint, chosen by ``Configuration/loadBalancing``.
///
/// Every call carries a deadline when one is known — the earliest of the call's timeout, the method's default and
/// the deadline of the call being served (``CallContext/current``) — and is cancelled, with a `CANCEL` frame, the
/// moment the calling task is cancelled or the deadline passes. A call whose budget is already spent fails locally
/// with `deadlineExceeded` and nothing is sent.
///
/// ```swift
/// let client = RPCClient(host: "127.0.0.1", port: 8080)
/// let reply = try await client.unary(greet, Greeting(text: "Ada"), options: CallOptions(timeout: .milliseconds(200)))
/// await client.close()
/// ```
///
/// In a swift-service-lifecycle `ServiceGroup`, a client is a `Service` (``run()``) that shuts down gracefully.
public final class RPCClient: Sendable {
    /// What the client reaches.
    public let target: Target
    /// The server's host (a DNS target's name; a list's first host).
    public var host: String {
        switch self.target.kind {
        case .endpoints(let endpoints): return endpoints.first?.host ?? ""
        case .dns(let host, _): return host
        }
    }
    /// The server's port (a list's first port).
    public var port: Int {
        switch self.target.kind {
        case .endpoints(let endpoints): return endpoints.first?.port ?? 0
        case .dns(_, let port): return port
        }
    }
    /// The behaviour and limits.
    public let configuration: Configuration
    /// The connections, the calls waiting for one, and the balancer (event loop only).
    let manager: ClientConnectionManager
    private let allocator = ByteBufferAllocator()
    /// Live counters: clamped deadline extensions, strict-mode refusals, calls not started for lack of budget.
    public let stats: ClientStats

    /// Creates a client for one server; it connects on the first call.
    public convenience init(
        host: String,
        port: Int,
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.init(target: .host(host, port: port), configuration: configuration, eventLoopGroup: eventLoopGroup)
    }

    /// Creates a client for a target (one server, a list of replicas, or a DNS name); it resolves and connects on
    /// the first call.
    public convenience init(
        target: Target,
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.init(target: target, configuration: configuration, eventLoop: eventLoopGroup.any(), connector: .tcp)
    }

    /// An in-process client (DeadlineRPCTesting): its connections are opened by `connector` on `eventLoop` (whose
    /// clock its deadlines read) instead of over TCP; everything else is the TCP client's.
    package convenience init(
        target: Target,
        configuration: Configuration,
        eventLoop: any EventLoop,
        inProcess connector: any InProcessConnecting
    ) {
        self.init(target: target, configuration: configuration, eventLoop: eventLoop, connector: .inProcess(connector))
    }

    private init(
        target: Target,
        configuration: Configuration,
        eventLoop: any EventLoop,
        connector: ClientConnectionManager.Connector
    ) {
        self.target = target
        self.configuration = configuration
        self.stats = ClientStats(prefix: configuration.metricsPrefix, factory: configuration.metricsFactory, logger: configuration.logger)
        self.manager = ClientConnectionManager(
            target: target,
            configuration: configuration,
            eventLoop: eventLoop,
            stats: self.stats,
            connector: connector
        )
    }

    /// A client let go without ``close()`` would keep its connections open for the life of the process: they are
    /// closed now, and the oversight is logged. (No call is open: each holds the client until it ends.)
    deinit {
        let manager = self.manager
        manager.onLoop { manager.abandon() }
    }

    /// Fails new calls, closes the connections, also those still being opened (open calls fail `unavailable`), and
    /// returns when all have ended.
    public func close() async {
        await self.manager.close()
    }

    /// Reads the client's certificate chain, private key and trust roots again from their files; when they are sound
    /// (they parse, the key belongs to the leaf, every certificate of the chain is within its validity), new
    /// connections use them, while open connections keep theirs. Also runs on ``ClientTransportSecurity/reloadInterval``.
    /// - Throws: ``TLSReloadError`` naming the cause and file when the material is not sound (the current material
    ///   stays; also logged and counted in ``ClientStats/tlsReloads``); `failedPrecondition` without TLS.
    public func reloadTLS() async throws {
        try await self.manager.reloadTLS()
    }

    // MARK: Calls

    /// Calls a unary method.
    /// - Throws: `RPCError` — the server's status, `deadlineExceeded`, `cancelled` (with its cause), or
    ///   `unavailable` when the call could not be sent or the connection dropped.
    public func unary<Request, Response>(
        _ method: Method<Request, Response>,
        _ request: Request,
        options: CallOptions = .default
    ) async throws -> Response {
        precondition(method.kind == .unary, "\(method.name) is \(method.kind), not unary")
        guard self.configuration.interceptors.isEmpty else {
            return try await self.interceptedUnary(method, request, options)
        }
        let call = try self.uninterceptedCall(method, request, options)
        try await self.exchange(call)
        return try Self.message(call, method.responseCodec)
    }

    /// Calls a unary method and returns the reply with the trailing metadata the server sent with its status.
    /// - Throws: as ``unary(_:_:options:)``; a failed call's trailers are in the error's ``RPCError/metadata``.
    public func unaryResponse<Request, Response>(
        _ method: Method<Request, Response>,
        _ request: Request,
        options: CallOptions = .default
    ) async throws -> ClientResponse<Response> {
        precondition(method.kind == .unary, "\(method.name) is \(method.kind), not unary")
        guard self.configuration.interceptors.isEmpty else {
            return try await self.intercepting(method, options) { outbound, parent, now in
                let call = try self.makeCall(method, request: request, outbound: outbound, parent: parent, now: now)
                try await self.exchange(call)
                return try Self.response(call, method.responseCodec)
            }
        }
        let call = try self.uninterceptedCall(method, request, options)
        try await self.exchange(call)
        return try Self.response(call, method.responseCodec)
    }


    /// Calls a server-streaming method; `body` reads the responses. Leaving `body` before the stream ends cancels
    /// the call.
    public func serverStreaming<Request, Response, Result>(
        _ method: Method<Request, Response>,
        _ request: Request,
        options: CallOptions = .default,
        _ body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        precondition(method.kind == .serverStreaming, "\(method.name) is \(method.kind), not server-streaming")
        return try await self.intercepting(method, options) { outbound, parent, now in
            let call = try self.makeCall(method, request: request, outbound: outbound, parent: parent, now: now)
            let responses = ResponseStream(queue: call.responses!, codec: method.responseCodec)
            return try await self.withStartedCall(call) {
                try await body(responses)
            }
        }
    }

    /// Calls a client-streaming method; `body` writes the requests, then the request stream is closed for you and
    /// the response returned.
    public func clientStreaming<Request, Response>(
        _ method: Method<Request, Response>,
        options: CallOptions = .default,
        _ body: (RequestWriter<Request>) async throws -> Void
    ) async throws -> Response {
        precondition(method.kind == .clientStreaming, "\(method.name) is \(method.kind), not client-streaming")
        return try await self.intercepting(method, options) { outbound, parent, now in
            let call = try self.makeCall(method, hasRequest: false, outbound: outbound, parent: parent, now: now)
            let writer = RequestWriter(call: call, codec: method.requestCodec, allocator: self.allocator)
            let reply = try await self.withStartedCall(call) {
                try await body(writer)
                return try await self.halfCloseAndAwaitResponse(call)
            }
            return try Self.decode(reply.message, method.responseCodec)
        }
    }

    /// Calls a bidirectional method: `requests` writes the requests (in a child task; the stream is closed when it
    /// returns) while `responses` reads the responses. Returning from `responses` early cancels the call.
    public func bidirectional<Request, Response, Result: Sendable>(
        _ method: Method<Request, Response>,
        options: CallOptions = .default,
        requests: @escaping @Sendable (RequestWriter<Request>) async throws -> Void,
        responses: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        precondition(method.kind == .bidirectional, "\(method.name) is \(method.kind), not bidirectional")
        return try await self.intercepting(method, options) { outbound, parent, now in
            let call = try self.makeCall(method, hasRequest: false, outbound: outbound, parent: parent, now: now)
            let writer = RequestWriter(call: call, codec: method.requestCodec, allocator: self.allocator)
            let stream = ResponseStream(queue: call.responses!, codec: method.responseCodec)
            return try await self.withStartedCall(call) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await requests(writer)
                        call.onLoop { call.loop.connection?.halfClose(call) }
                    }
                    let result = try await responses(stream)
                    group.cancelAll()
                    return result
                }
            }
        }
    }

    // MARK: Internals

    /// The current instant on the client's event loop clock (the real monotonic clock on a NIOPosix loop).
    func now() -> Deadline {
        Deadline(self.manager.eventLoop.now)
    }

    /// Builds one attempt of a call that sends `request` as its single request.
    private func makeCall<Request, Response>(
        _ method: Method<Request, Response>,
        request: Request,
        outbound: OutboundCall,
        parent: CallContext?,
        now: Deadline
    ) throws -> ClientCall {
        try self.makeCall(method, hasRequest: true, outbound: outbound, parent: parent, now: now) { buffer in
            try method.requestCodec.encode(request, into: &buffer)
        }
    }

    /// Builds one attempt of a call from what the interceptors passed on and the context of the call being served;
    /// `now` is the attempt's instant, read by ``intercepting(_:_:_:)``. With `hasRequest`, `encodeRequest` writes
    /// the single request (a closure rather than a `Request?`: an `Optional` of a generic type is a metadata
    /// look-up per call).
    private func makeCall<Request, Response>(
        _ method: Method<Request, Response>,
        hasRequest: Bool,
        outbound: OutboundCall,
        parent: CallContext?,
        now: Deadline,
        encodeRequest: (inout ByteBuffer) throws -> Void = { _ in }
    ) throws -> ClientCall {
        var deadline = outbound.deadline
        if let limit = outbound.inheritedDeadline, deadline.map({ $0 > limit }) ?? true {
            // An interceptor tried to extend (or drop) the deadline: clamped, never obeyed.
            self.stats.recordDeadlineClamped(
                method: method.name,
                requested: deadline.map { $0 - now } ?? .seconds(Int64.max),
                inherited: limit - now
            )
            deadline = limit
        }
        if self.configuration.requireDeadline {
            try self.enforceStrictMode(method: method.name, deadline: deadline, now: now)
        }
        if let deadline, deadline - now < max(self.configuration.minimumBudget, .nanoseconds(1)) {
            self.stats.recordShedLocally(method: method.name)
            throw RPCError(
                code: .deadlineExceeded,
                message: deadline <= now
                    ? "The call's budget was spent before it could be sent; nothing was sent."
                    : "Only \(deadline - now) of budget is left, below this client's minimum of \(self.configuration.minimumBudget); the call was not started.",
                cancelReason: .deadlineExceeded
            )
        }
        if let error = outbound.metadata.validate() {
            throw RPCError(code: .invalidArgument, message: "Invalid request metadata: \(error.message)")
        }
        let metadata = try self.propagating(into: outbound.metadata, from: ServiceContext.current ?? parent?.serviceContext)
        var firstRequest: ByteBuffer? = nil
        if hasRequest {
            var buffer = self.allocator.buffer(capacity: 0)
            do {
                try encodeRequest(&buffer)
            } catch {
                throw RPCError(code: .internal, message: "The request message could not be encoded.", cause: error)
            }
            firstRequest = buffer
        }
        let originalBudget: Duration?
        if let parent {
            originalBudget = parent.originalBudget
        } else {
            // A root call's budget counts from when it was made, so retries do not restart the clock.
            originalBudget = deadline.map { $0 - outbound.createdAt }
        }
        let responses: InboundMessageQueue? = method.kind.singleResponse ? nil : InboundMessageQueue()
        let call = ClientCall(
            eventLoop: self.manager.eventLoop,
            method: method.name,
            kind: method.kind,
            deadline: deadline,
            originalBudget: originalBudget,
            hopCount: UInt8(clamping: (parent?.hopCount ?? -1) + 1),
            metadata: metadata,
            encoding: outbound.compression,
            firstRequest: firstRequest,
            parentControl: parent?.control,
            responses: responses,
            history: outbound.history
        )
        responses?.setOnConsume { [weak call] bytes in
            guard let call else { return }
            call.onLoop { call.loop.connection?.responseConsumed(call, bytes: bytes) }
        }
        return call
    }

    /// Sends a single-response call and waits for its reply; the caller's cancellation cancels the call.
    ///
    /// Neither generic nor inlined, on purpose: this frame is most of what a parked unary caller's task holds for
    /// the whole call, and Swift's task allocator hands out 984-byte slabs, so every frame on the parked path that
    /// the caller's own frames do not leave room for costs a slab (issue #19, goal 5).
    @inline(never)
    private func exchange(_ call: ClientCall) async throws {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                self.manager.submit(.start(call, continuation))
            }
        } onCancel: {
            self.cancel(call)
        }
    }

    /// ``unary(_:_:options:)`` through the interceptors: apart, so the fast path's frame holds nothing of this one.
    @inline(never)
    private func interceptedUnary<Request, Response>(
        _ method: Method<Request, Response>,
        _ request: Request,
        _ options: CallOptions
    ) async throws -> Response {
        // Not through `unaryResponse`: its `ClientResponse<Response>` is a generic type this module instantiates at
        // run time, a metadata look-up per call that a caller who wants only the message need not pay.
        try await self.intercepting(method, options) { outbound, parent, now in
            let call = try self.makeCall(method, request: request, outbound: outbound, parent: parent, now: now)
            try await self.exchange(call)
            return try Self.message(call, method.responseCodec)
        }
    }

    /// A single-request call without interceptors, ready to send: the synchronous part of a unary call, kept out of
    /// the async frames that stay allocated while it is in flight.
    @inline(never)
    private func uninterceptedCall<Request, Response>(
        _ method: Method<Request, Response>,
        _ request: Request,
        _ options: CallOptions
    ) throws -> ClientCall {
        let (outbound, parent, now) = try self.outboundCall(method, options)
        return try self.makeCall(method, request: request, outbound: outbound, parent: parent, now: now)
    }

    /// The caller's view of the reply of a call ``exchange(_:)`` completed.
    @inline(never)
    private static func response<Response>(_ call: ClientCall, _ codec: any MessageCodec<Response>) throws -> ClientResponse<Response> {
        let reply = call.resumedReply()
        return ClientResponse(message: try Self.decode(reply.message, codec), trailers: reply.trailers, peer: reply.peer)
    }

    /// The decoded message of the reply of a call ``exchange(_:)`` completed.
    @inline(never)
    private static func message<Response>(_ call: ClientCall, _ codec: any MessageCodec<Response>) throws -> Response {
        try Self.decode(call.resumedReply().message, codec)
    }

    /// Forwards the caller's cancellation, with the cause of the call being served if that is why.
    private func cancel(_ call: ClientCall) {
        // With propagation disabled the call outlives its caller's cancellation: the leak, reproduced.
        guard self.configuration.propagation == .enabled else { return }
        LatencyTrace.mark(.callerCancel, self.manager)
        let (reason, origin) = Self.cancelCause(of: call)
        self.manager.submit(.cancel(call, reason, origin))
    }

    /// Why `call` is being cancelled: a recorded cause means the call being served ended (its server records why
    /// before it cancels the handler's task), so the call's status names that, not a caller that did nothing.
    private static func cancelCause(of call: ClientCall) -> (CancelReason, CancelOrigin) {
        if let reason = call.parentControl?.cancelReason { return (reason, .servedCall) }
        return (.cancelled, .caller)
    }

    /// Starts a streaming call, runs `body`, and cancels the call if it is still open when `body` ends.
    private func withStartedCall<Result>(_ call: ClientCall, _ body: () async throws -> Result) async throws -> Result {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                call.onLoop {
                    call.loop.startWaiter = continuation
                    self.manager.start(call)
                }
            }
            do {
                let result = try await body()
                call.onLoop { self.manager.cancel(call, reason: .cancelled) }  // No-op when already ended.
                return result
            } catch {
                call.onLoop {
                    let (reason, origin) = Self.cancelCause(of: call)
                    self.manager.cancel(call, reason: reason, origin: origin)
                }
                throw error
            }
        } onCancel: {
            self.cancel(call)
        }
    }

    private func halfCloseAndAwaitResponse(_ call: ClientCall) async throws -> SingleResponse {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            call.onLoop {
                let loop = call.loop
                switch loop.outcome {
                case .success?:
                    loop.resumeWithReply(continuation)
                case .failure(let error)?:
                    continuation.resume(throwing: error)
                case nil:
                    loop.single = continuation
                    loop.connection?.halfClose(call)
                }
            }
        }
        return call.resumedReply()
    }

    private static func decode<Response>(_ bytes: ByteBuffer, _ codec: any MessageCodec<Response>) throws -> Response {
        do {
            return try codec.decode(bytes)
        } catch {
            throw RPCError(code: .internal, message: "The response message could not be decoded.", cause: error)
        }
    }
}
