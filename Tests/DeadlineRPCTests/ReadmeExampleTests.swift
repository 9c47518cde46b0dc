import DeadlineRPC
import Foundation
import Testing

// The README's usage example, compiled and run here so it cannot rot. Keep the two in sync.

// README-EXAMPLE-BEGIN
struct Greeting: Codable, Sendable {
    var text: String
}

// A method is a value shared by client and server: no code generator.
let greet = Method<Greeting, Greeting>.unary("greeter.Greeter/Greet")

func serveAndCall() async throws -> String {
    var router = Router()
    router.unary(greet) { request, context in
        // context.deadline is the caller's budget on this host's clock; any RPCClient call made here
        // inherits it and is cancelled with this handler.
        Greeting(text: "Hello, \(request.text)")
    }
    let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
    return try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.run() }
        let port = try await server.listeningAddress.port!

        let client = RPCClient(host: "127.0.0.1", port: port)
        let reply = try await client.unary(greet, Greeting(text: "Ada"), options: CallOptions(timeout: .seconds(5)))
        await client.close()
        server.beginGracefulShutdown()
        return reply.text
    }
}
// README-EXAMPLE-END

@Suite("README example", .timeLimit(.minutes(5)))
struct ReadmeExampleTests {
    @Test("The README's usage example runs and returns the greeting")
    func example() async throws {
        #expect(try await serveAndCall() == "Hello, Ada")
    }

    @Test("README.md shows exactly the example compiled here")
    func readmeMatches() throws {
        let testFile = URL(fileURLWithPath: #filePath)
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: testFile, encoding: .utf8)
        let begin = "// README-EXAMPLE-" + "BEGIN\n"
        let end = "// README-EXAMPLE-" + "END"
        let example = try #require(source.components(separatedBy: begin).dropFirst().first?.components(separatedBy: end).first)
        #expect(readme.contains(example))
    }
}
