@testable import DeadlineRPC
import MetricsTestKit
import Synchronization
import Testing

/// Attempts a server saw, per request text.
final class RetryAttemptCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    /// Counts an attempt for `text` and returns its number (1 for the first).
    func count(_ text: String) -> Int { self.counts.withLock { $0[text, default: 0] += 1; return $0[text]! } }
    func attempts(_ text: String) -> Int { self.counts.withLock { $0[text, default: 0] } }
    var total: Int { self.counts.withLock { $0.values.reduce(0, +) } }
}

@Suite("RetryInterceptor with a retry budget, end to end", .timeLimit(.minutes(5)))
struct RetryInterceptorTests {
    static let idempotent = Method<Echo, Echo>.unary("test.Retries/Idempotent", isIdempotent: true)
    static let unsafe = Method<Echo, Echo>.unary("test.Retries/Unsafe")

    /// A server whose methods fail with `unavailable`: always for a text starting with "down", else only the first
    /// attempt of each text.
    static func router(_ counter: RetryAttemptCounter) -> Router {
        var router = Router()
        for method in [Self.idempotent, Self.unsafe] {
            router.unary(method) { request, _ in
                let attempt = counter.count(request.text)
                if request.text.hasPrefix("down") || attempt == 1 {
                    throw RPCError(code: .unavailable, message: "\(request.text) down (\(attempt))")
                }
                return Echo(text: "\(request.text) on attempt \(attempt)")
            }
        }
        return router
    }

    /// Three attempts, 1 ms backoffs, no floor to speak of: only the retry budget decides.
    static var policy: RetryInterceptor.Policy {
        var policy = RetryInterceptor.Policy()
        policy.maxAttempts = 3
        policy.initialBackoff = .milliseconds(1)
        policy.maximumBackoff = .milliseconds(1)
        policy.jitter = 0
        policy.minimumBudgetForAttempt = .milliseconds(1)
        return policy
    }

    static let options = CallOptions(timeout: .seconds(30))

    @Test("Budget exhausted: no retry is sent, the attempt's own failure stands, and the refusal is counted")
    func exhausted() async throws {
        let counter = RetryAttemptCounter()
        let metrics = TestMetrics()
        // One retry in the window, time frozen: the reserve is all there is.
        let clock = BudgetTestClock()
        let budget = try RetryBudget(ttl: .seconds(1), minRetriesPerSecond: 1, percentCanRetry: 0, elapsed: { clock.now })
        let retry = RetryInterceptor(policy: Self.policy, budget: budget, prefix: "t", factory: metrics)
        var configuration = RPCClient.Configuration()
        configuration.interceptors = [retry]
        try await withServerAndClient(router: Self.router(counter), clientConfiguration: configuration) { _, client async throws in
            // The first failure is retried (the budget's one retry), the second is refused.
            let first = await #expect(throws: RPCError.self) {
                try await client.unary(Self.idempotent, Echo(text: "down-1"), options: Self.options)
            }
            #expect(first?.code == .unavailable)
            #expect(first?.message == "down-1 down (2)")
            #expect(counter.attempts("down-1") == 2)
            #expect(budget.balance == 0)

            // Budget exhausted: the server sees exactly one attempt.
            let second = await #expect(throws: RPCError.self) {
                try await client.unary(Self.idempotent, Echo(text: "down-2"), options: Self.options)
            }
            #expect(second?.code == .unavailable)
            #expect(second?.message == "down-2 down (1)")
            #expect(counter.attempts("down-2") == 1)
            #expect(counter.total == 3)

            #expect(retry.stats.retries == 1)
            #expect(retry.stats.refusedByRetryBudget == 2)
            #expect(retry.stats.refusedByDeadlineFloor == 0)
            #expect(retry.stats.refusedAtMaxAttempts == 0)
            let method = [("method", Self.idempotent.name)]
            #expect(try metrics.expectCounter("t_client_retries_total", method).totalValue == 1)
            let refused = try metrics.expectCounter("t_client_retries_refused_total", method + [("reason", "retry_budget")])
            #expect(refused.totalValue == 2)
            #expect(throws: (any Error).self) {
                try metrics.expectCounter("t_client_retries_refused_total", method + [("reason", "deadline")])
            }
        }
    }

    @Test("With budget the retry is sent and counted; each call, of any method, pays a share of one")
    func percentage() async throws {
        let counter = RetryAttemptCounter()
        let metrics = TestMetrics()
        // Half a retry per call, no reserve, time frozen.
        let clock = BudgetTestClock()
        let budget = try RetryBudget(ttl: .seconds(10), minRetriesPerSecond: 0, percentCanRetry: 0.5, elapsed: { clock.now })
        let retry = RetryInterceptor(policy: Self.policy, budget: budget, prefix: "t", factory: metrics)
        var configuration = RPCClient.Configuration()
        configuration.interceptors = [retry]
        try await withServerAndClient(router: Self.router(counter), clientConfiguration: configuration) { _, client async throws in
            // Half a retry in the budget: refused.
            let refused = await #expect(throws: RPCError.self) {
                try await client.unary(Self.idempotent, Echo(text: "a"), options: Self.options)
            }
            #expect(refused?.message == "a down (1)")
            #expect(counter.attempts("a") == 1)

            // The second call brings the budget to one retry: its first attempt fails, the retry succeeds.
            let reply = try await client.unary(Self.idempotent, Echo(text: "b"), options: Self.options)
            #expect(reply.text == "b on attempt 2")
            #expect(counter.attempts("b") == 2)
            #expect(budget.balance == 0)

            // A call that is never retried still deposits: after it, the next failure has its retry.
            let unsafe = await #expect(throws: RPCError.self) {
                try await client.unary(Self.unsafe, Echo(text: "u"), options: Self.options)
            }
            #expect(unsafe?.code == .unavailable)
            #expect(counter.attempts("u") == 1)
            let third = try await client.unary(Self.idempotent, Echo(text: "c"), options: Self.options)
            #expect(third.text == "c on attempt 2")
            #expect(counter.total == 6)

            #expect(retry.stats.retries == 2)
            #expect(retry.stats.refusedByRetryBudget == 1)
            let method = [("method", Self.idempotent.name)]
            #expect(try metrics.expectCounter("t_client_retries_total", method).totalValue == 2)
            #expect(try metrics.expectCounter("t_client_retries_refused_total", method + [("reason", "retry_budget")]).totalValue == 1)
        }
    }

    @Test("One budget given to two clients' interceptors caps their retries together; stats stay per interceptor")
    func sharedAcrossClients() async throws {
        let counter = RetryAttemptCounter()
        let clock = BudgetTestClock()
        let budget = try RetryBudget(ttl: .seconds(1), minRetriesPerSecond: 1, percentCanRetry: 0, elapsed: { clock.now })
        let first = RetryInterceptor(policy: Self.policy, budget: budget, factory: TestMetrics())
        let second = RetryInterceptor(policy: Self.policy, budget: budget, factory: TestMetrics())
        var configuration = RPCClient.Configuration()
        configuration.interceptors = [first]
        try await withServerAndClient(router: Self.router(counter), clientConfiguration: configuration) { server, client in
            var otherConfiguration = RPCClient.Configuration()
            otherConfiguration.interceptors = [second]
            let other = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!, configuration: otherConfiguration)
            let reply = try await client.unary(Self.idempotent, Echo(text: "x"), options: Self.options)
            #expect(reply.text == "x on attempt 2")
            let refused = await #expect(throws: RPCError.self) {
                try await other.unary(Self.idempotent, Echo(text: "y"), options: Self.options)
            }
            await other.close()
            #expect(refused?.message == "y down (1)")
            #expect(counter.total == 3)
            #expect(first.stats.retries == 1)
            #expect(first.stats.refusedByRetryBudget == 0)
            #expect(second.stats.retries == 0)
            #expect(second.stats.refusedByRetryBudget == 1)
        }
    }

    @Test("The last attempt's retryable failure is counted as refused at max_attempts; copies share budget and stats")
    func maxAttempts() async throws {
        let counter = RetryAttemptCounter()
        let metrics = TestMetrics()
        let retry = RetryInterceptor(policy: Self.policy, prefix: "t", factory: metrics)
        let copy = retry
        #expect(copy.budget === retry.budget)
        #expect(copy.stats === retry.stats)
        var configuration = RPCClient.Configuration()
        configuration.interceptors = [copy]
        try await withServerAndClient(router: Self.router(counter), clientConfiguration: configuration) { _, client async throws in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(Self.idempotent, Echo(text: "down"), options: Self.options)
            }
            #expect(error?.message == "down down (3)")
            #expect(counter.total == 3)
            #expect(retry.stats.retries == 2)
            #expect(retry.stats.refusedAtMaxAttempts == 1)
            #expect(retry.stats.refusedByRetryBudget == 0)
            let method = [("method", Self.idempotent.name)]
            #expect(try metrics.expectCounter("t_client_retries_refused_total", method + [("reason", "max_attempts")]).totalValue == 1)
        }
    }

    @Test("The guide's shared budget: two clients' interceptors draw on one RetryBudget")
    func guideSharedBudget() throws {
        // guide:begin retry-budget
        // Orders and payments together retry at most 10 % of their calls plus 5 a second.
        let budget = try RetryBudget(ttl: .seconds(10), minRetriesPerSecond: 5, percentCanRetry: 0.1)
        var orders = RPCClient.Configuration()
        orders.interceptors = [RetryInterceptor(budget: budget)]
        var payments = RPCClient.Configuration()
        payments.interceptors = [RetryInterceptor(budget: budget)]
        // guide:end retry-budget
        let interceptors = (orders.interceptors + payments.interceptors).compactMap { $0 as? RetryInterceptor }
        #expect(interceptors.count == 2)
        #expect(interceptors.allSatisfy { $0.budget === budget })
        #expect(interceptors[0].stats !== interceptors[1].stats)
        #expect(budget.balance == 50)
    }

    @Test("Backoff settings out of range are clamped, never trapping")
    func hostileBackoff() {
        var policy = RetryInterceptor.Policy()
        policy.initialBackoff = .seconds(-5)
        #expect(policy.backoff(beforeAttempt: 2) == .zero)
        policy.initialBackoff = .milliseconds(10)
        policy.multiplier = -3
        policy.jitter = -2
        #expect(policy.backoff(beforeAttempt: 2) == .milliseconds(10))
        #expect(policy.backoff(beforeAttempt: 3) == .zero)
        policy.multiplier = .nan
        policy.jitter = .nan
        #expect(policy.backoff(beforeAttempt: 3) == policy.maximumBackoff)
        policy.multiplier = .infinity
        policy.maximumBackoff = .seconds(Int64.max)
        policy.jitter = 1e300
        #expect(policy.backoff(beforeAttempt: 3) <= .nanoseconds(1 << 62))
    }
}
