import DeadlineRPC
import Synchronization
import Testing

@Suite("The per-method default in the min() rule", .timeLimit(.minutes(5)))
struct MethodDefaultAndLoggingTests {
    static let shortDefault = Method<Echo, Echo>.unary("test.Defaults/Short", defaultTimeout: .seconds(5))
    static let relay = Method<Echo, Echo>.unary("test.Defaults/Relay")

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
            #expect(budget <= .seconds(5), "the 5 s method default, not the 60 s option")
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
            // 3 s inherited < 5 s default < 60 s option.
            _ = try await client.unary(Self.relay, Echo(text: ""), options: CallOptions(timeout: .seconds(3)))
            // 30 s inherited > 5 s default: the default still bounds the outbound call.
            _ = try await client.unary(Self.relay, Echo(text: ""), options: CallOptions(timeout: .seconds(30)))
            let budgets = seen.withLock { $0 }
            #expect(budgets.count == 2)
            let underShortParent = try #require(budgets.first ?? nil)
            let underLongParent = try #require(budgets.last ?? nil)
            #expect(underShortParent <= .seconds(3), "the inherited 3 s, not the 5 s default or the 60 s option")
            #expect(underLongParent <= .seconds(5), "the 5 s default, not the inherited 30 s")
            #expect(underLongParent > .zero)
            // Both 60 s options asked for more than the parent had left.
            #expect(inner.stats.clampedDeadlines == 2)
            await inner.close()
        }
    }
}
