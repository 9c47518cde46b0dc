import DeadlineRPC
import NIOCore
import Testing

@Suite("Call kinds over loopback TCP", .timeLimit(.minutes(5)))
struct CallKindsTests {
    static var router: Router {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in Echo(text: "echo: \(request.text)") }
        router.unary(TestMethods.raw) { request, _ in request }
        router.serverStreaming(TestMethods.expand) { request, writer, _ in
            for word in request.text.split(separator: " ") {
                try await writer.write(Echo(text: String(word)))
            }
        }
        router.clientStreaming(TestMethods.collect) { requests, _ in
            var words: [String] = []
            for try await request in requests { words.append(request.text) }
            return Echo(text: words.joined(separator: " "))
        }
        router.bidirectional(TestMethods.update) { requests, writer, _ in
            for try await request in requests {
                try await writer.write(Echo(text: request.text.uppercased()))
            }
        }
        return router
    }

    @Test("Unary call returns the handler's response")
    func unary() async throws {
        try await withServerAndClient(router: Self.router) { _, client in
            let reply = try await client.unary(TestMethods.echo, Echo(text: "hi"))
            #expect(reply == Echo(text: "echo: hi"))
        }
    }

    @Test("Raw bytes pass through untouched")
    func raw() async throws {
        try await withServerAndClient(router: Self.router) { _, client in
            let bytes = ByteBuffer(bytes: (0..<256).map { UInt8($0) })
            let reply = try await client.unary(TestMethods.raw, bytes)
            #expect(reply == bytes)
        }
    }

    @Test("Server streaming delivers every response in order")
    func serverStreaming() async throws {
        try await withServerAndClient(router: Self.router) { _, client in
            let words = try await client.serverStreaming(TestMethods.expand, Echo(text: "a b c d")) { responses in
                var words: [String] = []
                for try await response in responses { words.append(response.text) }
                return words
            }
            #expect(words == ["a", "b", "c", "d"])
        }
    }

    @Test("Client streaming sends every request, then gets one response")
    func clientStreaming() async throws {
        try await withServerAndClient(router: Self.router) { _, client in
            let reply = try await client.clientStreaming(TestMethods.collect) { writer in
                for word in ["x", "y", "z"] { try await writer.write(Echo(text: word)) }
            }
            #expect(reply == Echo(text: "x y z"))
        }
    }

    @Test("Bidirectional streaming echoes each request")
    func bidirectional() async throws {
        try await withServerAndClient(router: Self.router) { _, client in
            let replies = try await client.bidirectional(TestMethods.update) { writer in
                for word in ["one", "two", "three"] { try await writer.write(Echo(text: word)) }
            } responses: { responses in
                var replies: [String] = []
                for try await response in responses { replies.append(response.text) }
                return replies
            }
            #expect(replies == ["ONE", "TWO", "THREE"])
        }
    }

    @Test("Unknown method fails with unimplemented")
    func unknownMethod() async throws {
        try await withServerAndClient(router: Self.router) { _, client in
            let missing = Method<Echo, Echo>.unary("test.Nope/Missing")
            let error = await #expect(throws: RPCError.self) { try await client.unary(missing, Echo(text: "")) }
            #expect(error?.code == .unimplemented)
        }
    }

    @Test("1000 concurrent calls share one connection")
    func thousandConcurrent() async throws {
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = 1000
        try await withServerAndClient(router: Self.router, serverConfiguration: configuration) { server, client in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<1000 {
                    group.addTask {
                        let reply = try await client.unary(TestMethods.echo, Echo(text: "\(i)"))
                        return reply.text == "echo: \(i)"
                    }
                }
                var ok = 0
                for try await good in group where good { ok += 1 }
                #expect(ok == 1000)
            }
            #expect(server.stats.connections == 1)
        }
    }
}
