@testable import DeadlineRPC
import Foundation
import TestSupport
import Testing

/// Runs `body` with `drpc`'s test server (``DRPCTestService``) on 127.0.0.1, passing its `HOST:PORT`.
func withDRPCServer(
    router: Router = DRPCTestService.router(),
    configuration: RPCServer.Configuration = RPCServer.Configuration(),
    _ body: @Sendable (String) async throws -> Void
) async throws {
    try await withServerAndClient(router: router, serverConfiguration: configuration) { server, _ in
        let port = try await server.listeningAddress.port!
        try await body("127.0.0.1:\(port)")
    }
}

/// `drpc` run as a real process against a test server: every subcommand, every call kind, `-v`, `--json`, and
/// every exit code of the table in `drpc --help` (and the README).
@Suite("drpc: the command-line client", .serialized, .timeLimit(.minutes(5)), .heavyweight)
struct DRPCCommandTests {
    @Test("list: every method with its kind and encodings, then the health statuses; --json lists exactly the registered methods")
    func list() async throws {
        try await withDRPCServer { target in
            let text = try await DRPCProcess.run(["list", target])
            #expect(text.status == 0, "\(text)")
            #expect(text.stderr == "")
            let lines = text.stdoutLines
            #expect(lines.count == DRPCTestService.methodNames.count + 3, "\(text)")
            #expect(lines.prefix(DRPCTestService.methodNames.count).map { String($0.prefix { $0 != " " }) } == DRPCTestService.methodNames.sorted())
            #expect(lines.contains { $0.hasPrefix("greeter.Greeter/Greet ") && $0.hasSuffix("  unary             json -> json  idempotent  timeout 20s") })
            #expect(lines.contains { $0.hasPrefix("geo.Points/Mirror ") && $0.hasSuffix("  unary             point-binary -> point-binary  (accepts JSON)  timeout 30s") })
            #expect(Array(lines.suffix(3)) == ["health \"\": SERVING", "health geo.Points: NOT_SERVING", "health greeter.Greeter: SERVING"])

            let json = try await DRPCProcess.run(["list", target, "--json"])
            #expect(json.status == 0, "\(json)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let methods = try #require(object["methods"] as? [[String: Any]])
            #expect(Set(methods.compactMap { $0["name"] as? String }) == DRPCTestService.methodNames)
            #expect(methods.count == DRPCTestService.methodNames.count)
            #expect(object["status"] as? String == "OK")
            #expect(object["code"] as? Int == 0)
        }
    }

    @Test("describe: a method's kind, encodings, JSON form, timeout, idempotency; an unknown method is NOT_FOUND (exit 4)")
    func describe() async throws {
        try await withDRPCServer { target in
            let mirror = try await DRPCProcess.run(["describe", target, "geo.Points/Mirror"])
            #expect(mirror.status == 0, "\(mirror)")
            #expect(mirror.stdoutLines == [
                "name: geo.Points/Mirror",
                "kind: unary",
                "request encoding: point-binary",
                "response encoding: point-binary",
                "accepts JSON: yes",
                "default timeout: 30s",
                "idempotent: no",
            ])

            let json = try await DRPCProcess.run(["describe", target, "greeter.Greeter/Count", "--json"])
            #expect(json.status == 0, "\(json)")
            #expect(json.stdout == #"{"acceptsJSON":true,"code":0,"idempotent":false,"kind":"server-streaming","message":"","name":"greeter.Greeter/Count","requestEncoding":"json","responseEncoding":"json","status":"OK","trailers":{}}"# + "\n")

            let unknown = try await DRPCProcess.run(["describe", target, "no.Such/Method"])
            #expect(unknown.status == 4, "\(unknown)")
            #expect(unknown.stdout == "")
            #expect(unknown.stderr == "ERROR: NOT_FOUND: This server does not serve 'no.Such/Method'.\n")
        }
    }

    @Test("call: unary, server-streaming (a line per response), client-streaming and bidirectional (JSON lines from stdin)")
    func callKinds() async throws {
        try await withDRPCServer { target in
            let unary = try await DRPCProcess.run(["call", target, "greeter.Greeter/Greet", #"{"name":"Ada"}"#, "--timeout", "60s"])
            #expect(unary.status == 0, "\(unary)")
            #expect(unary.stdoutLines == [#"{"text":"Hello, Ada!"}"#])

            let stream = try await DRPCProcess.run(["call", target, "greeter.Greeter/Count", #"{"to":3}"#])
            #expect(stream.status == 0, "\(stream)")
            #expect(stream.stdoutLines == [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#])

            let sum = try await DRPCProcess.run(["call", target, "greeter.Greeter/Sum"], stdin: "{\"n\":1}\n\n{\"n\":2}\n{\"n\":39}\n")
            #expect(sum.status == 0, "\(sum)")
            #expect(sum.stdoutLines == [#"{"total":42}"#])

            let chat = try await DRPCProcess.run(["call", target, "greeter.Greeter/Chat"], stdin: "{\"text\":\"a\"}\n{\"text\":\"b\"}\n")
            #expect(chat.status == 0, "\(chat)")
            #expect(chat.stdoutLines == [#"{"text":"echo: a"}"#, #"{"text":"echo: b"}"#])

            // A line that is not JSON: the lines before it are sent, the call ends, and drpc exits 64 naming it.
            let badLine = try await DRPCProcess.run(["call", target, "greeter.Greeter/Chat"], stdin: "{\"text\":\"a\"}\nnot json\n{\"text\":\"b\"}\n")
            #expect(badLine.status == 64, "\(badLine)")
            #expect(badLine.stdoutLines == [#"{"text":"echo: a"}"#])
            #expect(badLine.stderr == "drpc: a request line is not JSON: not json\n")
            let badSum = try await DRPCProcess.run(["call", target, "greeter.Greeter/Sum"], stdin: "{\"n\":1}\n[1,\n")
            #expect(badSum.status == 64, "\(badSum)")
            #expect(badSum.stdout == "")
            #expect(badSum.stderr == "drpc: a request line is not JSON: [1,\n")

            let emptyStdin = try await DRPCProcess.run(["call", target, "greeter.Greeter/Sum"])
            #expect(emptyStdin.status == 0, "\(emptyStdin)")
            #expect(emptyStdin.stdoutLines == [#"{"total":0}"#])
        }
    }

    @Test("call a binary method with a JSON form: drpc sends content-type: application/json and reads JSON back")
    func callBinaryMethodThroughItsJSONForm() async throws {
        try await withDRPCServer { target in
            let mirror = try await DRPCProcess.run(["call", target, "geo.Points/Mirror", #"{"x":1,"y":2}"#])
            #expect(mirror.status == 0, "\(mirror)")
            #expect(mirror.stdoutLines == [#"{"x":2,"y":1}"#])

            let opaque = try await DRPCProcess.run(["call", target, "geo.Points/Opaque", #"{"x":1,"y":2}"#])
            #expect(opaque.status == 64, "\(opaque)")
            #expect(opaque.stderr == "drpc: geo.Points/Opaque encodes its messages as custom -> custom and has no JSON form; drpc call sends only JSON.\n")
        }
    }

    @Test("-v prints status, message, trailers and the budget attribution; --json puts them in one document")
    func verboseAndJSON() async throws {
        try await withDRPCServer { target in
            let ok = try await DRPCProcess.run(["call", target, "greeter.Greeter/Greet", #"{"name":"Ada"}"#, "-v", "--timeout", "60s"])
            #expect(ok.status == 0, "\(ok)")
            #expect(ok.stdoutLines.count == 4, "\(ok)")
            #expect(Array(ok.stdoutLines.prefix(3)) == [#"{"text":"Hello, Ada!"}"#, "status: OK", "message: "])
            // The method's 20 s default timeout is shorter than --timeout: it is the budget.
            #expect(ok.stdoutLines.last?.hasPrefix("budget: hop 0: 20000ms budget, 0µs used upstream, 20000ms left on arrival, ") == true, "\(ok)")

            let failed = try await DRPCProcess.run(["call", target, "greeter.Greeter/Fail", #"{"code":14,"message":"try later"}"#, "-v"])
            #expect(failed.status == 3, "\(failed)")
            #expect(failed.stdoutLines == ["status: UNAVAILABLE", "message: try later", "trailer: retry-after-ms: 250", "budget: none (no deadline)"])
            #expect(failed.stderr == "ERROR: UNAVAILABLE: try later\n")

            let json = try await DRPCProcess.run(["call", target, "greeter.Greeter/Fail", #"{"code":7,"message":"no"}"#, "--json"])
            #expect(json.status == 5, "\(json)")
            #expect(json.stdout == #"{"code":7,"message":"no","responses":[],"status":"PERMISSION_DENIED","trailers":{"retry-after-ms":"250"}}"# + "\n")

            let stream = try await DRPCProcess.run(["call", target, "greeter.Greeter/Count", #"{"to":2}"#, "--json"])
            #expect(stream.status == 0, "\(stream)")
            #expect(stream.stdout == #"{"code":0,"message":"","responses":[{"n":1},{"n":2}],"status":"OK","trailers":{}}"# + "\n")

            let health = try await DRPCProcess.run(["health", target, "geo.Points", "--json"])
            #expect(health.status == 6, "\(health)")
            #expect(health.stdout == #"{"code":0,"message":"","service":"geo.Points","servingStatus":"NOT_SERVING","status":"OK","trailers":{}}"# + "\n")
        }
    }

    @Test("health: SERVING exits 0, NOT_SERVING 6, a name with no status NOT_FOUND (4); -H metadata reaches the server")
    func health() async throws {
        try await withDRPCServer { target in
            let whole = try await DRPCProcess.run(["health", target])
            #expect(whole.status == 0, "\(whole)")
            #expect(whole.stdoutLines == ["SERVING"])
            let notServing = try await DRPCProcess.run(["health", target, "geo.Points"])
            #expect(notServing.status == 6, "\(notServing)")
            #expect(notServing.stdoutLines == ["NOT_SERVING"])
            let unknown = try await DRPCProcess.run(["health", target, "nope.Nope"])
            #expect(unknown.status == 4, "\(unknown)")
            #expect(unknown.stderr == "ERROR: NOT_FOUND: No health status is registered for service 'nope.Nope'.\n")
        }
        // A header drpc sends is what the server sees: an interceptor that wants a token refuses without it.
        var configuration = RPCServer.Configuration()
        configuration.interceptors = [BearerTokenAuthInterceptor(acceptedTokens: ["s3cret"])]
        try await withDRPCServer(configuration: configuration) { target in
            let refused = try await DRPCProcess.run(["health", target])
            #expect(refused.status == 5, "\(refused)")
            #expect(refused.stderr.hasPrefix("ERROR: UNAUTHENTICATED"), "\(refused)")
            let allowed = try await DRPCProcess.run(["health", target, "-H", "authorization: Bearer s3cret"])
            #expect(allowed.status == 0, "\(allowed)")
        }
    }

    /// (arguments after the target, expected exit code, expected first line of standard error)
    static let exitCodeCases: [([String], Int32, String)] = [
        (["call", "greeter.Greeter/Greet", #"{"name":"x"}"#], 0, ""),
        (["call", "greeter.Greeter/Fail", #"{"code":13,"message":"boom"}"#], 1, "ERROR: INTERNAL: boom"),
        (["call", "greeter.Greeter/Fail", #"{"code":2,"message":"what"}"#], 1, "ERROR: UNKNOWN: what"),
        (["call", "greeter.Greeter/Fail", #"{"code":8,"message":"full"}"#], 1, "ERROR: RESOURCE_EXHAUSTED: full"),
        (["call", "greeter.Greeter/Wait", "{}", "--timeout", "100ms"], 2, "ERROR: DEADLINE_EXCEEDED"),
        (["call", "greeter.Greeter/Fail", #"{"code":1,"message":"stop"}"#], 2, "ERROR: CANCELLED"),
        (["call", "greeter.Greeter/Fail", #"{"code":14,"message":"later"}"#], 3, "ERROR: UNAVAILABLE: later"),
        (["call", "greeter.Greeter/Fail", #"{"code":3,"message":"bad"}"#], 4, "ERROR: INVALID_ARGUMENT: bad"),
        (["call", "greeter.Greeter/Count", #"{"to":-1}"#], 4, "ERROR: INVALID_ARGUMENT: 'to' must be 0...1000."),
        (["call", "no.Such/Method", "{}"], 4, "ERROR: NOT_FOUND: This server does not serve 'no.Such/Method'."),
        (["call", "greeter.Greeter/Fail", #"{"code":12,"message":"nope"}"#], 4, "ERROR: UNIMPLEMENTED: nope"),
        (["call", "greeter.Greeter/Fail", #"{"code":7,"message":"no"}"#], 5, "ERROR: PERMISSION_DENIED: no"),
        (["call", "greeter.Greeter/Fail", #"{"code":16,"message":"who"}"#], 5, "ERROR: UNAUTHENTICATED: who"),
        (["health", "geo.Points"], 6, ""),
        (["call", "greeter.Greeter/Greet", "{not json"], 64, "Error: the request argument is not JSON: {not json"),
        (["call", "greeter.Greeter/Greet", "{}", "-H", "no-colon"], 64, "Error: -H 'no-colon': expected key:value."),
        (["call", "greeter.Greeter/Greet", "{}", "--timeout", "soon"], 64, "Error: The value 'soon' is invalid for '--timeout <timeout>'"),
        (["call", "greeter.Greeter/Greet", "{}", "--cert", "c.pem"], 64, "Error: --cert and --key go together (mutual TLS needs both)."),
        (["call", "greeter.Greeter/Sum", "{}"], 64, "drpc: greeter.Greeter/Sum is client-streaming: it reads its requests as JSON lines from standard input, not from the argument '{}'."),
        (["frobnicate"], 64, "Error: Unexpected argument 'frobnicate'"),
    ]

    @Test("Every exit code of the table, with its error line", arguments: Self.exitCodeCases)
    func exitCodes(arguments: [String], expected: Int32, firstErrorLine: String) async throws {
        try await withDRPCServer { target in
            let command = arguments.first == "frobnicate" ? arguments : [arguments[0], target] + arguments.dropFirst()
            let result = try await DRPCProcess.run(command)
            #expect(result.status == expected, "\(result)")
            if firstErrorLine.isEmpty {
                #expect(result.stderr == "", "\(result)")
            } else {
                #expect(result.stderrLines.first?.hasPrefix(firstErrorLine) == true, "\(result)")
            }
        }
    }

    @Test("A server without reflection: list and call are UNIMPLEMENTED (exit 4); an address nobody listens on is UNAVAILABLE (exit 3)")
    func noReflectionAndNoServer() async throws {
        try await withDRPCServer(router: DRPCTestService.router(reflection: false)) { target in
            let list = try await DRPCProcess.run(["list", target])
            #expect(list.status == 4, "\(list)")
            #expect(list.stderr.hasPrefix("ERROR: UNIMPLEMENTED"), "\(list)")
            let call = try await DRPCProcess.run(["call", target, "greeter.Greeter/Greet", "{}"])
            #expect(call.status == 4, "\(call)")
            // Health needs no reflection.
            let health = try await DRPCProcess.run(["health", target])
            #expect(health.status == 0, "\(health)")
        }
        // A port that was just listened on and is closed now.
        let closed = try await Self.closedPort()
        let result = try await DRPCProcess.run(["list", "127.0.0.1:\(closed)", "--timeout", "20s"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.hasPrefix("ERROR: UNAVAILABLE"), "\(result)")
    }

    /// A port a server bound and released (nothing listens on it afterwards, barring a race with another bind).
    static func closedPort() async throws -> Int {
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Router())
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            server.beginGracefulShutdown()
            try await group.waitForAll()
            return port
        }
    }
}
