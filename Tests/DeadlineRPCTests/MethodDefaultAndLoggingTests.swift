import DeadlineRPC
import MetricsTestKit
import Synchronization
import Testing

@Suite("The per-method default in the min() rule; clamp and straggler logging", .timeLimit(.minutes(5)))
struct MethodDefaultAndLoggingTests {
    static let shortDefault = Method<Echo, Echo>.unary("test.Defaults/Short", defaultTimeout: .seconds(30))
    static let relay = Method<Echo, Echo>.unary("test.Defaults/Relay")
    static let other = Method<Echo, Echo>.unary("test.Echo/Other")
    static let clamping = Method<Echo, Echo>.unary("test.Clamp/Relay")
    static let clampWarning = "An outbound call asked for more time than the call being served has left"

    /// A server whose `shortDefault` handler records the budget it was given, and whose `relay` handler calls
    /// `shortDefault` with a 60 s option through `downstream`.
    static func defaultsRouter(
        record: @escaping @Sendable (Duration?) -> Void,
        downstream: @escaping @Sendable () -> RPCClient?
    ) -> Router {
        var router = Router()
        router.unary(Self.shortDefault) { request, context in
            record(context.timeRemaining)
            return request
        }
        router.unary(Self.relay) { request, _ in
            try await downstream()!.unary(Self.shortDefault, request, options: CallOptions(timeout: .seconds(60)))
        }
        return router
    }

    @Test("A method's default timeout shorter than the call's option wins (and is no clamp)")
    func methodDefaultBeatsOption() async throws {
        let seen = Mutex<[Duration?]>([])
        try await withServerAndClient(router: Self.defaultsRouter(record: { budget in seen.withLock { $0.append(budget) } }, downstream: { nil })) { _, client in
            _ = try await client.unary(Self.shortDefault, Echo(text: ""), options: CallOptions(timeout: .seconds(60)))
            let budgets = seen.withLock { $0 }
            #expect(budgets.count == 1)
            let budget = try #require(budgets.first ?? nil)
            #expect(budget <= .seconds(30), "the 30 s method default, not the 60 s option")
            #expect(budget > .zero)
            #expect(client.stats.clampedDeadlines == 0, "nothing was inherited, so nothing was clamped")
        }
    }

    @Test("An inherited deadline shorter than both the method default and the option wins; a longer one loses to the default")
    func inheritedBeatsMethodDefault() async throws {
        let seen = Mutex<[Duration?]>([])
        let box = Mutex<RPCClient?>(nil)
        let router = Self.defaultsRouter(
            record: { budget in seen.withLock { $0.append(budget) } },
            downstream: { box.withLock { $0 } }
        )
        try await withServerAndClient(router: router) { server, client in
            let inner = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!)
            box.withLock { $0 = inner }
            // 20 s inherited < 30 s default < 60 s option (budgets this long so a starved machine cannot end the
            // calls; only the order between them is under test).
            _ = try await client.unary(Self.relay, Echo(text: ""), options: CallOptions(timeout: .seconds(20)))
            // 50 s inherited > 30 s default: the default still bounds the outbound call.
            _ = try await client.unary(Self.relay, Echo(text: ""), options: CallOptions(timeout: .seconds(50)))
            let budgets = seen.withLock { $0 }
            #expect(budgets.count == 2)
            let underShortParent = try #require(budgets.first ?? nil)
            let underLongParent = try #require(budgets.last ?? nil)
            #expect(underShortParent <= .seconds(20), "the inherited 20 s, not the 30 s default or the 60 s option")
            #expect(underLongParent <= .seconds(30), "the 30 s default, not the inherited 50 s")
            #expect(underLongParent > .zero)
            // Both 60 s options asked for more than the parent had left.
            #expect(inner.stats.clampedDeadlines == 2)
            await inner.close()
        }
    }

    @Test("Clamps are logged once per method and all counted")
    func clampLoggedOncePerMethod() async throws {
        let capture = LogCapture()
        let metrics = TestMetrics()
        let box = Mutex<RPCClient?>(nil)
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.unary(Self.other) { request, _ in request }
        router.unary(Self.clamping) { request, _ in
            let inner = box.withLock { $0 }!
            // Each asks for 60 s inside a call with 20 s left: three clamps, two of them on the same method.
            for method in [TestMethods.echo, TestMethods.echo, Self.other] {
                _ = try await inner.unary(method, request, options: CallOptions(timeout: .seconds(60)))
            }
            return request
        }
        try await withServerAndClient(router: router) { server, client in
            var configuration = RPCClient.Configuration()
            configuration.logger = capture.logger(label: "inner")
            configuration.metricsFactory = metrics
            configuration.metricsPrefix = "clamp"
            let inner = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!, configuration: configuration)
            box.withLock { $0 = inner }
            _ = try await client.unary(Self.clamping, Echo(text: ""), options: CallOptions(timeout: .seconds(20)))
            var warnings = capture.records.filter { $0.message.hasPrefix(Self.clampWarning) }
            #expect(warnings.count == 2)
            #expect(warnings.allSatisfy { $0.level == .warning })
            #expect(warnings.map { "\($0.metadata["drpc.method"] ?? "")" } == [TestMethods.echo.name, Self.other.name])
            #expect(inner.stats.clampedDeadlines == 3)
            // A second call clamps the same methods again: counted, not logged again.
            _ = try await client.unary(Self.clamping, Echo(text: ""), options: CallOptions(timeout: .seconds(20)))
            warnings = capture.records.filter { $0.message.hasPrefix(Self.clampWarning) }
            #expect(warnings.count == 2)
            #expect(inner.stats.clampedDeadlines == 6)
            let label = "clamp_client_deadline_clamped_total"
            #expect(try metrics.expectCounter(label, [("method", TestMethods.echo.name)]).totalValue == 4)
            #expect(try metrics.expectCounter(label, [("method", Self.other.name)]).totalValue == 2)
            await inner.close()
        }
    }

    @Test("A straggler is logged with its method and call id, and again with its overrun when it returns")
    func stragglerLogged() async throws {
        let capture = LogCapture()
        let started = Signal()
        let gate = Signal()
        let callID = Mutex<UInt64?>(nil)
        let graceMilliseconds = 100
        var configuration = RPCServer.Configuration()
        configuration.logger = capture.logger(label: "server")
        configuration.stragglerGracePeriod = .milliseconds(graceMilliseconds)
        var router = Router()
        router.unary(TestMethods.wait) { request, context in
            callID.withLock { $0 = context.callID }
            started.fire()
            await gate.wait()  // Ignores cancellation on purpose: a straggler.
            return request
        }
        let stillRunning = "Handler still running"
        let returned = "Straggler handler returned"
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, client in
            let call = Task { try await client.unary(TestMethods.wait, Echo(text: ""), options: CallOptions(timeout: .seconds(30))) }
            await started.wait()
            call.cancel()
            _ = await call.result
            #expect(await capture.first { $0.message.hasPrefix(stillRunning) } != nil)
            #expect(!capture.records.contains { $0.message == returned }, "the handler has not returned yet")
            let id = try #require(callID.withLock { $0 })
            let warning = try #require(capture.records.first { $0.message.hasPrefix(stillRunning) })
            #expect(warning.level == .warning)
            #expect(warning.metadata["drpc.method"] == "\(TestMethods.wait.name)")
            #expect(warning.metadata["drpc.call_id"] == "\(id)")
            #expect(warning.metadata["drpc.cancel_reason"] == "cancelled")
            gate.fire()
            #expect(await capture.first { $0.message == returned } != nil)
            let done = try #require(capture.records.first { $0.message == returned })
            #expect(done.level == .warning)
            #expect(done.metadata["drpc.method"] == "\(TestMethods.wait.name)")
            #expect(done.metadata["drpc.call_id"] == "\(id)")
            // It was detected a grace period after the call ended and released only then: it overran at least that.
            let overrun = try #require(done.metadata["drpc.overrun_ms"].flatMap { Int("\($0)") })
            #expect(overrun >= graceMilliseconds)
            #expect(capture.records.filter { $0.message.hasPrefix(stillRunning) }.count == 1)
            await server.stats(until: { $0.handlersInFlight == 0 })
        }
    }
}
