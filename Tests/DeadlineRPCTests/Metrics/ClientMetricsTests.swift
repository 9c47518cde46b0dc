import DeadlineRPC
import MetricsTestKit
import Testing

@Suite("Client metrics through an injected swift-metrics factory", .timeLimit(.minutes(5)))
struct ClientMetricsTests {
    @Test("Clamped deadlines, calls shed locally and strict-mode refusals are counted by method")
    func clientCounters() async throws {
        let metrics = TestMetrics()
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.unary(TestMethods.wait) { request, context in
            // Outbound call from inside a handler: asks for more than is left (clamped), then for a call that
            // cannot start (shed locally).
            let client = try #require(ClientHolder.client.withLock { $0 })
            _ = try await client.unary(TestMethods.echo, request, options: CallOptions(timeout: .seconds(60)))
            _ = try? await client.unary(TestMethods.echo, request, options: CallOptions(deadline: Deadline.now() + .nanoseconds(-1)))
            return request
        }
        var configuration = RPCClient.Configuration()
        configuration.metricsFactory = metrics
        configuration.metricsPrefix = "c"
        try await withServerAndClient(router: router, clientConfiguration: configuration) { _, client in
            ClientHolder.client.withLock { $0 = client }
            defer { ClientHolder.client.withLock { $0 = nil } }
            _ = try await client.unary(TestMethods.wait, Echo(text: "x"), options: CallOptions(timeout: .seconds(20)))
            let method = [("method", TestMethods.echo.name)]
            #expect(try metrics.expectCounter("c_client_deadline_clamped_total", method).totalValue == 1)
            #expect(try metrics.expectCounter("c_client_calls_shed_total", method).totalValue == 1)
            #expect(client.stats.clampedDeadlines == 1)
            #expect(client.stats.shedLocally == 1)
        }
        var strict = RPCClient.Configuration()
        strict.metricsFactory = metrics
        strict.metricsPrefix = "s"
        strict.requireDeadline = true
        try await withServerAndClient(router: router, clientConfiguration: strict) { _, client in
            _ = try? await client.unary(TestMethods.echo, Echo(text: "x"))
            let refused = try metrics.expectCounter("s_client_calls_refused_without_deadline_total", [("method", TestMethods.echo.name)])
            #expect(refused.totalValue == 1)
        }
    }
}

import Synchronization

/// Lets the test's handler reach the client under test (the handler is built before the client exists).
enum ClientHolder {
    static let client = Mutex<RPCClient?>(nil)
}
