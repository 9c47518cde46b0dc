@testable import DeadlineRPC
import Instrumentation
import NIOCore
import Testing

/// A unary call runs a flat path on each side when no interceptor is configured (issue #19, goal 5: the frames a
/// parked call holds) and the general path through the interceptors otherwise. These pin that both paths give the
/// caller and the handler exactly the same: reply, trailers, statuses, and the contexts the handler sees.
@Suite("Unary paths: with and without interceptors, the same outcomes")
struct UnaryPathTests {
    /// A server interceptor that only passes the call on (its presence selects the general path).
    struct PassServer: ServerInterceptor {
        func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
            try await next(context)
        }
    }

    /// A client interceptor that only passes the call on.
    struct PassClient: ClientInterceptor {
        func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
            try await next(call)
        }
    }

    /// Encodes nothing: every response fails to encode.
    struct Unencodable: MessageCodec {
        struct Refused: Error {}
        func encode(_ message: String, into buffer: inout ByteBuffer) throws { throw Refused() }
        func decode(_ buffer: ByteBuffer) throws -> String { String(buffer: buffer) }
    }

    struct TraceKey: ServiceContextKey {
        typealias Value = String
    }

    static let echo = Method<ByteBuffer, ByteBuffer>.raw("test.UnaryPath/Echo", kind: .unary)
    static let contexts = Method<ByteBuffer, ByteBuffer>.raw("test.UnaryPath/Contexts", kind: .unary)
    static let fails = Method<ByteBuffer, ByteBuffer>.raw("test.UnaryPath/Fails", kind: .unary)
    static let unencodable = Method<String, String>(
        "test.UnaryPath/Unencodable", kind: .unary, requestCodec: Unencodable(), responseCodec: Unencodable()
    )

    static func router() -> Router {
        var router = Router()
        router.unary(Self.echo) { request, context in
            context.setTrailingMetadata(["echo-trailer": "t1"])
            return request
        }
        router.unary(Self.contexts) { _, context in
            // What the handler sees as current: its own call, and the service context bound for it.
            let current = CallContext.current
            let service = ServiceContext.current
            var reply = ByteBuffer()
            reply.writeString("\(current?.method ?? "none")|\(current?.callID == context.callID)|\(service != nil)")
            return reply
        }
        router.unary(Self.fails) { _, _ in
            throw RPCError(code: .resourceExhausted, message: "no room", metadata: ["why": "full"])
        }
        router.unary(Self.unencodable) { request, _ in request }
        return router
    }

    static func configurations(serverInterceptor: Bool, clientInterceptor: Bool) -> (RPCServer.Configuration, RPCClient.Configuration) {
        var server = RPCServer.Configuration()
        if serverInterceptor { server.interceptors = [PassServer()] }
        var client = RPCClient.Configuration()
        if clientInterceptor { client.interceptors = [PassClient()] }
        return (server, client)
    }

    @Test("reply, trailers and the handler's contexts", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func sameReply(serverInterceptor: Bool, clientInterceptor: Bool) async throws {
        let (server, client) = Self.configurations(serverInterceptor: serverInterceptor, clientInterceptor: clientInterceptor)
        try await withServerAndClient(router: Self.router(), serverConfiguration: server, clientConfiguration: client) { _, client in
            let options = CallOptions(timeout: .seconds(30))
            let message = ByteBuffer(string: "ping")
            #expect(try await client.unary(Self.echo, message, options: options) == message)
            let response = try await client.unaryResponse(Self.echo, message, options: options)
            #expect(response.message == message)
            #expect(response.trailers.first(forKey: "echo-trailer") == "t1")
            #expect(response.peer == nil)
            let seen = try await client.unary(Self.contexts, ByteBuffer(), options: options)
            #expect(String(buffer: seen) == "test.UnaryPath/Contexts|true|true")
        }
    }

    @Test("a handler's error reaches the caller with its status and metadata", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func sameError(serverInterceptor: Bool, clientInterceptor: Bool) async throws {
        let (server, client) = Self.configurations(serverInterceptor: serverInterceptor, clientInterceptor: clientInterceptor)
        try await withServerAndClient(router: Self.router(), serverConfiguration: server, clientConfiguration: client) { _, client in
            let error = await #expect(throws: RPCError.self) {
                _ = try await client.unary(Self.fails, ByteBuffer(), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message == "no room")
            #expect(error?.metadata.first(forKey: "why") == "full")
        }
    }

    @Test("a response the codec cannot encode ends the call internal", arguments: [false, true])
    func unencodableResponse(serverInterceptor: Bool) async throws {
        let (server, client) = Self.configurations(serverInterceptor: serverInterceptor, clientInterceptor: false)
        try await withServerAndClient(router: Self.router(), serverConfiguration: server, clientConfiguration: client) { _, client in
            // The request is written raw: this codec refuses to encode anything, on either side.
            let raw = Method<ByteBuffer, ByteBuffer>.raw(Self.unencodable.name, kind: .unary)
            let error = await #expect(throws: RPCError.self) {
                _ = try await client.unary(raw, ByteBuffer(string: "x"), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(error?.code == .internal)
            #expect(error?.message == "The response message could not be encoded.")
        }
    }
}
