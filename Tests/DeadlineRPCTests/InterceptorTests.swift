import DeadlineRPC
import Instrumentation
import MetricsTestKit
import NIOCore
import Synchronization
import Testing

/// An ordered record of what interceptors and handlers did.
final class EventRecorder: Sendable {
    private let storage = Mutex<[String]>([])
    func record(_ event: String) { self.storage.withLock { $0.append(event) } }
    var events: [String] { self.storage.withLock { $0 } }
}

/// A server interceptor that records entry and outcome, and optionally adds metadata for the handler.
// guide:begin server-interceptor
private struct RecordingServerInterceptor: ServerInterceptor {
    let name: String
    let recorder: EventRecorder
    var addKey: String? = nil

    func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        self.recorder.record("\(self.name)>")
        var context = context
        if let addKey { context.metadata.add("by-\(self.name)", forKey: addKey) }
        do {
            try await next(context)
            self.recorder.record("<\(self.name) OK")
        } catch {
            self.recorder.record("<\(self.name) \(Status(of: error).code)")
            throw error
        }
    }
}
// guide:end server-interceptor

/// A client interceptor that records entry (with the attempt) and outcome, and optionally adds metadata.
private struct RecordingClientInterceptor: ClientInterceptor {
    let name: String
    let recorder: EventRecorder
    var addKey: String? = nil

    func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        self.recorder.record("\(self.name)> #\(call.attempt)")
        var call = call
        if let addKey { call.metadata.add("by-\(self.name)", forKey: addKey) }
        do {
            let result = try await next(call)
            self.recorder.record("<\(self.name) OK")
            return result
        } catch {
            self.recorder.record("<\(self.name) \(Status(of: error).code)")
            throw error
        }
    }
}

/// A client interceptor that moves the deadline to a fixed offset from now (to test clamping and shortening).
private struct DeadlineSetter: ClientInterceptor {
    let offset: Duration?
    func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        var call = call
        call.deadline = self.offset.map { Deadline.now() + $0 }
        return try await next(call)
    }
}

@Suite("Interceptors", .timeLimit(.minutes(5)))
struct InterceptorTests {
    static let budget = Method<Echo, Echo>.unary("test.Interceptors/Budget")
    static let flaky = Method<Echo, Echo>.unary("test.Interceptors/Flaky", isIdempotent: true)
    static let flakyUnsafe = Method<Echo, Echo>.unary("test.Interceptors/FlakyUnsafe")
    static let health = Method<Echo, Echo>.unary("test.Interceptors/Health")

    @Test("Server interceptors run outermost first, pass changed metadata to the handler and see the outcome")
    func serverChain() async throws {
        let recorder = EventRecorder()
        var configuration = RPCServer.Configuration()
        configuration.interceptors = [
            RecordingServerInterceptor(name: "A", recorder: recorder),
            RecordingServerInterceptor(name: "B", recorder: recorder, addKey: "x-added"),
        ]
        var router = Router()
        router.unary(TestMethods.echo) { request, context in
            recorder.record("handler")
            #expect(CallContext.current?.metadata.first(forKey: "x-added") == "by-B")
            if request.text == "fail" { throw RPCError(code: .notFound, message: "no such thing") }
            return Echo(text: context.metadata.first(forKey: "x-added") ?? "missing")
        }
        try await withServerAndClient(router: router, serverConfiguration: configuration) { _, client in
            let reply = try await client.unary(TestMethods.echo, Echo(text: "hi"))
            #expect(reply.text == "by-B")
            #expect(recorder.events == ["A>", "B>", "handler", "<B OK", "<A OK"])

            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: "fail"))
            }
            #expect(error?.code == .notFound)
            #expect(Array(recorder.events.suffix(5)) == ["A>", "B>", "handler", "<B NOT_FOUND", "<A NOT_FOUND"])
        }
    }

    /// An echo server behind one server interceptor; `body` gets the server, a client, and how often the echo
    /// handler has run.
    private static func withCountedEcho(
        behind interceptor: any ServerInterceptor,
        _ body: @Sendable (RPCServer, RPCClient, @escaping @Sendable () -> Int) async throws -> Void
    ) async throws {
        let handlerRuns = Atomic<Int>(0)
        var configuration = RPCServer.Configuration()
        configuration.interceptors = [interceptor]
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in
            handlerRuns.add(1, ordering: .relaxed)
            return request
        }
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, client in
            try await body(server, client) { handlerRuns.load(ordering: .relaxed) }
        }
    }

    @Test("A server interceptor that throws refuses the call: the handler never runs and the request is not decoded")
    func serverRejects() async throws {
        struct Deny: ServerInterceptor {
            func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
                throw RPCError(code: .permissionDenied, message: "Not for you.")
            }
        }
        try await Self.withCountedEcho(behind: Deny()) { server, client, handlerRuns in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: "hi"))
            }
            #expect(error?.code == .permissionDenied)
            #expect(error?.message == "Not for you.")
            // Bytes that are not JSON: still permissionDenied, not the decode failure `internal`.
            let notJSON = Method<ByteBuffer, ByteBuffer>.raw(TestMethods.echo.name, kind: .unary)
            let rawError = await #expect(throws: RPCError.self) {
                try await client.unary(notJSON, ByteBuffer(string: "{{{"))
            }
            #expect(rawError?.code == .permissionDenied)
            #expect(handlerRuns() == 0)
            await server.stats(until: { $0.handlersInFlight == 0 })
        }
    }

    @Test("A server interceptor that calls next twice breaks its contract: the handler runs once, and the call ends INTERNAL and says why (the request was let go after the first decode)")
    func serverNextTwice() async throws {
        struct Twice: ServerInterceptor {
            func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
                try await next(context)
                try await next(context)
            }
        }
        try await Self.withCountedEcho(behind: Twice()) { server, client, handlerRuns in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: "hi"))
            }
            #expect(error?.code == .internal)
            #expect(error?.message == "The request was already decoded: a server interceptor called `next` more than once.")
            #expect(handlerRuns() == 1)
            await server.stats(until: { $0.handlersInFlight == 0 })
        }
    }

    @Test("Client interceptors run outermost first; metadata they add reaches the server; they see the outcome")
    func clientChain() async throws {
        let recorder = EventRecorder()
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.interceptors = [
            RecordingClientInterceptor(name: "A", recorder: recorder),
            RecordingClientInterceptor(name: "B", recorder: recorder, addKey: "x-client"),
        ]
        var router = Router()
        router.unary(TestMethods.echo) { request, context in
            if request.text == "fail" { throw RPCError(code: .alreadyExists, message: "dup") }
            return Echo(text: context.metadata.first(forKey: "x-client") ?? "missing")
        }
        try await withServerAndClient(router: router, clientConfiguration: clientConfiguration) { _, client in
            let reply = try await client.unary(TestMethods.echo, Echo(text: "hi"))
            #expect(reply.text == "by-B")
            #expect(recorder.events == ["A> #1", "B> #1", "<B OK", "<A OK"])
            _ = try? await client.unary(TestMethods.echo, Echo(text: "fail"))
            #expect(Array(recorder.events.suffix(2)) == ["<B ALREADY_EXISTS", "<A ALREADY_EXISTS"])
            // Streaming calls go through the same chain.
            _ = try? await client.serverStreaming(TestMethods.expand, Echo(text: "x")) { stream in
                for try await _ in stream {}
            }
            #expect(Array(recorder.events.suffix(4)) == ["A> #1", "B> #1", "<B UNIMPLEMENTED", "<A UNIMPLEMENTED"])
        }
    }

    @Test("An interceptor can shorten a call's deadline but not extend or drop it: clamped and counted")
    func interceptorDeadlineClamp() async throws {
        var router = Router()
        router.unary(Self.budget) { _, context in
            Echo(text: "\(context.timeRemaining?.components.seconds ?? -1)")
        }
        // Budgets of tens of seconds: what is checked is which deadline wins, and a 2 s call could run out on a
        // loaded machine before its handler ran (handlers share the cooperative pool with every other test).
        // Extending: asks for 600 s on a 20 s call.
        var extending = RPCClient.Configuration()
        extending.interceptors = [DeadlineSetter(offset: .seconds(600))]
        try await withServerAndClient(router: router, clientConfiguration: extending) { _, client in
            let seconds = try await client.unary(Self.budget, Echo(text: ""), options: CallOptions(timeout: .seconds(20)))
            #expect(Int(seconds.text)! <= 19)
            #expect(client.stats.clampedDeadlines == 1)
        }
        // Dropping the deadline altogether is an extension too.
        var dropping = RPCClient.Configuration()
        dropping.interceptors = [DeadlineSetter(offset: nil)]
        try await withServerAndClient(router: router, clientConfiguration: dropping) { _, client in
            let seconds = try await client.unary(Self.budget, Echo(text: ""), options: CallOptions(timeout: .seconds(20)))
            #expect((0...19).contains(Int(seconds.text)!))
            #expect(client.stats.clampedDeadlines == 1)
        }
        // Shortening is obeyed and not counted.
        var shortening = RPCClient.Configuration()
        shortening.interceptors = [DeadlineSetter(offset: .seconds(30))]
        try await withServerAndClient(router: router, clientConfiguration: shortening) { _, client in
            let seconds = try await client.unary(Self.budget, Echo(text: ""), options: CallOptions(timeout: .seconds(100)))
            #expect(Int(seconds.text)! <= 29)
            #expect(client.stats.clampedDeadlines == 0)
        }
    }

    @Test("Bearer-token auth: missing or wrong tokens are unauthenticated and never reach the handler")
    func bearerTokenAuth() async throws {
        let handlerRuns = Atomic<Int>(0)
        var serverConfiguration = RPCServer.Configuration()
        // guide:begin bearer-auth
        serverConfiguration.interceptors = [
            BearerTokenAuthInterceptor(acceptedTokens: ["s3cret", "other-token"], exemptMethods: [Self.health.name])
        ]
        // guide:end bearer-auth
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in
            handlerRuns.add(1, ordering: .relaxed)
            return request
        }
        router.unary(Self.health) { request, _ in
            handlerRuns.add(1, ordering: .relaxed)
            return request
        }
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration) { server, anonymous in
            let missing = await #expect(throws: RPCError.self) {
                try await anonymous.unary(TestMethods.echo, Echo(text: "x"))
            }
            #expect(missing?.code == .unauthenticated)
            #expect(missing?.message.contains("authorization: Bearer <token>") == true)

            var wrongMetadata = Metadata()
            wrongMetadata.add("Bearer s3cre7", forKey: "authorization")
            let wrong = await #expect(throws: RPCError.self) {
                try await anonymous.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(metadata: wrongMetadata))
            }
            #expect(wrong?.code == .unauthenticated)
            #expect(wrong?.message == "The bearer token was not accepted.")

            var basic = Metadata()
            basic.add("Basic dXNlcjpwYXNz", forKey: "authorization")
            let notBearer = await #expect(throws: RPCError.self) {
                try await anonymous.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(metadata: basic))
            }
            #expect(notBearer?.code == .unauthenticated)

            let health = try await anonymous.unary(Self.health, Echo(text: "up"))
            #expect(health.text == "up")
            #expect(handlerRuns.load(ordering: .relaxed) == 1)

            var configuration = RPCClient.Configuration()
            configuration.interceptors = [BearerTokenCredentials(token: "s3cret")]
            let port = try await server.listeningAddress.port!
            let authorized = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
            let reply = try await authorized.unary(TestMethods.echo, Echo(text: "in"))
            #expect(reply.text == "in")
            await authorized.close()
            #expect(handlerRuns.load(ordering: .relaxed) == 2)
        }
    }

    @Test("Retry: an idempotent unary call failing unavailable is retried until it succeeds, within maxAttempts")
    func retrySucceeds() async throws {
        let attempts = Atomic<Int>(0)
        let recorder = EventRecorder()
        var router = Router()
        router.unary(Self.flaky) { request, _ in
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            if request.text == "always" || attempt < 3 {
                throw RPCError(code: .unavailable, message: "try again (\(attempt))")
            }
            return Echo(text: "attempt \(attempt)")
        }
        var configuration = RPCClient.Configuration()
        configuration.interceptors = [RetryInterceptor(), RecordingClientInterceptor(name: "inner", recorder: recorder)]
        try await withServerAndClient(router: router, clientConfiguration: configuration) { _, client in
            let reply = try await client.unary(Self.flaky, Echo(text: "x"), options: CallOptions(timeout: .seconds(10)))
            #expect(reply.text == "attempt 3")
            #expect(recorder.events == ["inner> #1", "<inner UNAVAILABLE", "inner> #2", "<inner UNAVAILABLE", "inner> #3", "<inner OK"])

            attempts.store(0, ordering: .relaxed)
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(Self.flaky, Echo(text: "always"), options: CallOptions(timeout: .seconds(10)))
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message == "try again (3)")
            #expect(attempts.load(ordering: .relaxed) == 3)
        }
    }

    @Test("Retry never repeats non-idempotent methods or timeouts, and never starts an attempt below the budget floor")
    func retryRefuses() async throws {
        let attempts = Atomic<Int>(0)
        var router = Router()
        router.unary(Self.flakyUnsafe) { _, _ in
            attempts.add(1, ordering: .relaxed)
            throw RPCError(code: .unavailable, message: "down")
        }
        router.unary(Self.flaky) { request, _ in
            attempts.add(1, ordering: .relaxed)
            if request.text == "timeout" { throw RPCError(code: .deadlineExceeded, message: "too slow downstream") }
            throw RPCError(code: .unavailable, message: "down")
        }
        // guide:begin retry-policy
        var policy = RetryInterceptor.Policy()
        policy.maxAttempts = 5
        policy.initialBackoff = .seconds(6)
        policy.maximumBackoff = .seconds(6)
        policy.jitter = 0
        policy.minimumBudgetForAttempt = .seconds(5)
        let retry = RetryInterceptor(policy: policy)  // and Finagle's default RetryBudget
        var configuration = RPCClient.Configuration()
        configuration.interceptors = [retry]
        // guide:end retry-policy
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            // Not idempotent: one attempt.
            let unsafe = await #expect(throws: RPCError.self) {
                try await client.unary(Self.flakyUnsafe, Echo(text: ""), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(unsafe?.code == .unavailable)
            #expect(attempts.load(ordering: .relaxed) == 1)

            // A timeout is never retryable.
            attempts.store(0, ordering: .relaxed)
            let timeout = await #expect(throws: RPCError.self) {
                try await client.unary(Self.flaky, Echo(text: "timeout"), options: CallOptions(timeout: .seconds(30)))
            }
            #expect(timeout?.code == .deadlineExceeded)
            #expect(attempts.load(ordering: .relaxed) == 1)

            // 10 s budget: after a 6 s backoff less than the 5 s floor would be left, so no second attempt — the
            // caller gets the attempt's own `unavailable`, not a `deadlineExceeded` from a retry that ran out.
            attempts.store(0, ordering: .relaxed)
            let floor = await #expect(throws: RPCError.self) {
                try await client.unary(Self.flaky, Echo(text: ""), options: CallOptions(timeout: .seconds(10)))
            }
            #expect(floor?.code == .unavailable)
            #expect(floor?.message == "down")
            #expect(attempts.load(ordering: .relaxed) == 1)
            // Only the floor refused a retry; the other two calls were never retryable.
            #expect(retry.stats.refusedByDeadlineFloor == 1)
            #expect(retry.stats.retries == 0)
            #expect(retry.stats.refusedByRetryBudget == 0)
            #expect(retry.stats.refusedAtMaxAttempts == 0)

            // Without a deadline there is no floor to check: every attempt runs (4 backoffs of 6 s would be slow, so
            // this part uses a client with short backoffs).
            attempts.store(0, ordering: .relaxed)
            var quick = RetryInterceptor.Policy()
            quick.maxAttempts = 5
            quick.initialBackoff = .milliseconds(1)
            var quickConfiguration = RPCClient.Configuration()
            quickConfiguration.interceptors = [RetryInterceptor(policy: quick)]
            let quickClient = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!, configuration: quickConfiguration)
            _ = try? await quickClient.unary(Self.flaky, Echo(text: ""))
            await quickClient.close()
            #expect(attempts.load(ordering: .relaxed) == 5)
        }
    }

    @Test("Metrics interceptor: client calls by method and code and their durations; server budget attribution")
    func metricsInterceptor() async throws {
        let metrics = TestMetrics()
        let interceptor = MetricsInterceptor(prefix: "t", factory: metrics)
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.interceptors = [interceptor]
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.interceptors = [interceptor]
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in
            if request.text == "fail" { throw RPCError(code: .notFound, message: "none") }
            return request
        }
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, client in
            _ = try await client.unary(TestMethods.echo, Echo(text: "a"), options: CallOptions(timeout: .seconds(5)))
            _ = try await client.unary(TestMethods.echo, Echo(text: "b"), options: CallOptions(timeout: .seconds(5)))
            _ = try? await client.unary(TestMethods.echo, Echo(text: "fail"))  // no deadline: no attribution
            let method = [("method", TestMethods.echo.name)]
            #expect(try metrics.expectCounter("t_client_calls_total", method + [("code", "OK")]).totalValue == 2)
            #expect(try metrics.expectCounter("t_client_calls_total", method + [("code", "NOT_FOUND")]).totalValue == 1)
            #expect(try metrics.expectTimer("t_client_call_duration_seconds", method).values.count == 3)
            let upstream = try metrics.expectTimer("t_server_budget_used_upstream_seconds", method)
            #expect(upstream.values.count == 2)
            let left = try metrics.expectTimer("t_server_budget_left_on_arrival_seconds", method)
            #expect(left.values.allSatisfy { $0 > 1_000_000_000 && $0 <= 5_000_000_000 })
        }
    }

    @Test("Logging interceptor: one line per call with status, and on the server the budget attribution")
    func loggingInterceptor() async throws {
        let capture = LogCapture()
        let logging = LoggingInterceptor(logger: capture.logger(label: "client"), successLevel: .info, failureLevel: .warning)
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.logger = capture.logger(label: "server")
        serverConfiguration.interceptors = [logging]
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.interceptors = [logging]
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in
            if request.text == "fail" { throw RPCError(code: .notFound, message: "none") }
            return request
        }
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, client in
            _ = try await client.unary(TestMethods.echo, Echo(text: "a"), options: CallOptions(timeout: .seconds(5)))
            _ = try? await client.unary(TestMethods.echo, Echo(text: "fail"), options: CallOptions(timeout: .seconds(5)))
        }
        let records = capture.records
        let handled = records.filter { $0.message == "Handled call" }
        let handledFailed = records.filter { $0.message == "Handled call failed" }
        #expect(handled.count == 1)
        #expect(handledFailed.count == 1)
        #expect(handled.first?.level == .info)
        #expect(handledFailed.first?.level == .warning)
        #expect(handledFailed.first?.metadata["drpc.status"] == "NOT_FOUND")
        #expect(handledFailed.first?.metadata["drpc.method"] == "\(TestMethods.echo.name)")
        #expect(handled.first?.metadata["drpc.budget_original"] != nil)
        #expect(handled.first?.metadata["drpc.budget_used_upstream"] != nil)
        #expect(handled.first?.metadata["drpc.hop"] == "0")
        #expect(records.filter { $0.message == "Call succeeded" }.count == 1)
        #expect(records.first { $0.message == "Call failed" }?.metadata["drpc.status"] == "NOT_FOUND")
    }
}
