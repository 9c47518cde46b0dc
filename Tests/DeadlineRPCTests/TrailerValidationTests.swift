import DeadlineRPC
import NIOCore
import Testing
import Wire

/// The server validates a handler's trailers before writing them: trailers the client would refuse must not turn
/// the handler's status into the client's "reply was refused".
@Suite("Handler trailers are validated on the server", .timeLimit(.minutes(5)))
struct TrailerValidationTests {
    /// The message the caller sees for the reserved-prefix trailer the handler below sets.
    static let reservedMessage = "The handler's trailing metadata is invalid and was not sent: Metadata key 'drpc-handler-note' uses the prefix 'drpc-' reserved for the runtime."
    /// The message the caller sees for the upper-case key the throwing handler below uses.
    static let invalidKeyMessage = "The handler's trailing metadata is invalid and was not sent: Metadata key 'Bad-Key' has byte 0x42; keys are lowercase ASCII tokens (a-z 0-9 - _ .)."

    /// `echo` sets a reserved-prefix trailer and succeeds; `wait` throws an `RPCError` whose metadata has an invalid
    /// key; `expand` (streaming) sets valid trailers; `raw` (unary) sets valid trailers and succeeds.
    static func router() -> Router {
        var router = Router()
        router.unary(TestMethods.echo) { request, context in
            context.setTrailingMetadata(["x-ok": "1", "drpc-handler-note": "mine"])
            return request
        }
        router.unary(TestMethods.wait) { _, _ in
            throw RPCError(code: .notFound, message: "nothing here", metadata: ["x-ok": "1", "Bad-Key": "v"])
        }
        router.unary(TestMethods.raw) { request, context in
            context.setTrailingMetadata(["x-ok": "1", "detail-bin": .binary([0, 255])])
            return request
        }
        return router
    }

    @Test("A handler that sets a reserved-prefix trailer: the caller gets INTERNAL naming the key, logged once per method")
    func reservedPrefixTrailer() async throws {
        let capture = LogCapture()
        var configuration = RPCServer.Configuration()
        configuration.logger = capture.logger(label: "server")
        try await withServerAndClient(router: Self.router(), serverConfiguration: configuration) { _, client in
            for _ in 0..<3 {
                let error = await #expect(throws: RPCError.self) {
                    try await client.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(30)))
                }
                #expect(error?.code == .internal)
                #expect(error?.message == Self.reservedMessage)
                #expect(error?.metadata == Metadata(), "none of the handler's trailers is sent, not even the valid one")
            }
            // The connection is fine: the next call on it still works.
            let reply = try await client.unary(TestMethods.raw, ByteBuffer(string: "after"))
            #expect(reply == ByteBuffer(string: "after"))
        }
        let logged = capture.records.filter { $0.message.hasPrefix("A handler's trailing metadata could not be sent; the call ended with INTERNAL") }
        #expect(logged.count == 1, "three bad calls, one log line")
        #expect(logged.first?.level == .error)
        #expect(logged.first?.metadata["drpc.method"] == "\(TestMethods.echo.name)")
    }

    @Test("A handler that throws RPCError with an invalid metadata key: the caller gets INTERNAL naming the key")
    func invalidKeyInThrownError() async throws {
        try await withServerAndClient(router: Self.router()) { _, client in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.wait, Echo(text: "x"), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(error?.code == .internal)
            #expect(error?.message == Self.invalidKeyMessage)
            #expect(error?.metadata == Metadata())
        }
    }

    @Test("Trailers over the client's advertised metadata limits: RESOURCE_EXHAUSTED naming the size, not a refused reply")
    func trailersOverTheClientsLimits() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, context in
            context.setTrailingMetadata(["x-big": .string(String(repeating: "a", count: 2000))])
            return request
        }
        router.unary(TestMethods.raw) { request, context in
            var many = Metadata()
            for index in 0..<5 { many.add("v", forKey: "x-\(index)") }
            context.setTrailingMetadata(many)
            return request
        }
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.limits = WireLimits(maxMetadataSize: 1024, maxMetadataEntries: 4)
        try await withServerAndClient(router: router, clientConfiguration: clientConfiguration) { _, client in
            let big = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(big?.code == .resourceExhausted)
            #expect(big?.message == "The handler's trailing metadata is too large for the client and was not sent: Metadata of 2008 bytes exceeds the peer's limit of 1024 bytes.")
            let many = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.raw, ByteBuffer(string: "x"), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(many?.code == .resourceExhausted)
            #expect(many?.message == "The handler's trailing metadata is too large for the client and was not sent: 5 metadata entries exceed the peer's limit of 4.")
        }
    }

    @Test("Request metadata over the server's advertised limits fails locally with RESOURCE_EXHAUSTED; the server never sees the call")
    func requestMetadataOverTheServersLimits() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.limits = WireLimits(maxMetadataSize: 512, maxMetadataEntries: 64)
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration) { server, client in
            // A first call connects (the server's limits arrive in its SETTINGS).
            _ = try await client.unary(TestMethods.echo, Echo(text: "warm"), options: CallOptions(timeout: .seconds(30)))
            let startedBefore = server.stats.callsStarted
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(
                    TestMethods.echo,
                    Echo(text: "x"),
                    options: CallOptions(timeout: .seconds(30), metadata: ["x-big": .string(String(repeating: "b", count: 600))])
                )
            }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message == "The request metadata is too large for the server and was not sent: Metadata of 608 bytes exceeds the peer's limit of 512 bytes.")
            #expect(server.stats.callsStarted == startedBefore, "nothing reached the server")
            // The connection is unharmed.
            let reply = try await client.unary(TestMethods.echo, Echo(text: "after"), options: CallOptions(timeout: .seconds(30)))
            #expect(reply == Echo(text: "after"))
        }
    }

    @Test("unaryResponse returns the reply with the server's trailers; unary returns the same reply without them")
    func callerReadsSuccessTrailers() async throws {
        try await withServerAndClient(router: Self.router()) { _, client in
            let response = try await client.unaryResponse(TestMethods.raw, ByteBuffer(string: "hi"), options: CallOptions(timeout: .seconds(30)))
            #expect(response.message == ByteBuffer(string: "hi"))
            #expect(response.trailers == ["x-ok": "1", "detail-bin": .binary([0, 255])])
            let plain = try await client.unary(TestMethods.raw, ByteBuffer(string: "hi"), options: CallOptions(timeout: .seconds(30)))
            #expect(plain == ByteBuffer(string: "hi"))
        }
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        try await withServerAndClient(router: router) { _, client in
            let response = try await client.unaryResponse(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(30)))
            #expect(response.message == Echo(text: "x"))
            #expect(response.trailers.isEmpty, "no trailers set, none received")
        }
    }

    @Test("A server-streaming call's trailers are on its ResponseStream once the call ended with OK, not while it is open")
    func streamingTrailers() async throws {
        let (proceed, proceedContinuation) = AsyncStream<Void>.makeStream()
        var router = Router()
        router.serverStreaming(TestMethods.expand) { request, writer, context in
            context.setTrailingMetadata(["x-count": .string("\(request.text.split(separator: " ").count)")])
            let words = request.text.split(separator: " ")
            try await writer.write(Echo(text: String(words[0])))
            // The call stays open until the caller has looked at the trailers mid-stream.
            for await _ in proceed { break }
            for word in words.dropFirst() { try await writer.write(Echo(text: String(word))) }
        }
        try await withServerAndClient(router: router) { _, client in
            let (words, whileOpen, afterEnd) = try await client.serverStreaming(
                TestMethods.expand,
                Echo(text: "a b c"),
                options: CallOptions(timeout: .seconds(30))
            ) { responses in
                var iterator = responses.makeAsyncIterator()
                var words = [try await iterator.next()?.text ?? "-"]
                let whileOpen = responses.trailers
                proceedContinuation.yield()
                while let response = try await iterator.next() { words.append(response.text) }
                return (words, whileOpen, responses.trailers)
            }
            #expect(words == ["a", "b", "c"])
            #expect(whileOpen.isEmpty, "the handler had not returned yet")
            #expect(afterEnd == ["x-count": "3"])
        }
    }

    @Test("Valid trailers still arrive intact: on success (the CALL_END frame) and with a thrown status")
    func validTrailersArrive() async throws {
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Self.router())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            // The client API has no success-trailer accessor, so a raw peer reads the CALL_END itself.
            let raw = try await RawConnection.connect(port: port)
            try await raw.send(RawFrames.unaryCall(streamID: 1, method: TestMethods.raw.name, body: Array("hi".utf8)))
            let end = await raw.awaitCallEnd(1)
            #expect(end?.status == .ok)
            #expect(end?.metadata == ["x-ok": "1", "detail-bin": .binary([0, 255])])
            await raw.close()
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
        // A thrown status with valid metadata is unchanged (the full round trip is in DeadlineAndCancelTests).
        var router = Router()
        router.unary(TestMethods.echo) { _, _ in throw RPCError(code: .notFound, message: "none", metadata: ["x-ok": "1"]) }
        try await withServerAndClient(router: router) { _, client in
            let error = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "x")) }
            #expect(error?.code == .notFound)
            #expect(error?.message == "none")
            #expect(error?.metadata == ["x-ok": "1"])
        }
    }
}
