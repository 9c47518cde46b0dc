import DeadlineRPC
import MetricsTestKit
import Testing

@Suite("Server metrics through swift-metrics", .timeLimit(.minutes(5)))
struct ServerMetricsTests {
    @Test("Calls by method and status, shed calls, in-flight handlers and stragglers reach the metrics backend")
    func metricsFlow() async throws {
        let metrics = TestMetrics()
        let gate = Signal()
        let stragglerStarted = Signal()
        var configuration = RPCServer.Configuration()
        configuration.metricsFactory = metrics
        configuration.minimumBudget = .seconds(5)
        configuration.stragglerGracePeriod = .milliseconds(50)
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in
            if request.text == "fail" { throw RPCError(code: .notFound, message: "missing") }
            return request
        }
        router.unary(TestMethods.wait) { request, _ in
            // Ignores cancellation on purpose: a straggler.
            stragglerStarted.fire()
            await gate.wait()
            return request
        }
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, client in
            _ = try await client.unary(TestMethods.echo, Echo(text: "a"))
            _ = try await client.unary(TestMethods.echo, Echo(text: "b"))
            _ = try? await client.unary(TestMethods.echo, Echo(text: "fail"))
            _ = try? await client.unary(TestMethods.echo, Echo(text: "shed"), options: CallOptions(timeout: .seconds(1)))

            let method = [("method", TestMethods.echo.name)]
            #expect(try metrics.expectCounter("drpc_server_calls_started_total", method).totalValue == 3)
            #expect(try metrics.expectCounter("drpc_server_calls_finished_total", method + [("code", "OK")]).totalValue == 2)
            #expect(try metrics.expectCounter("drpc_server_calls_finished_total", method + [("code", "NOT_FOUND")]).totalValue == 1)
            #expect(try metrics.expectCounter("drpc_server_calls_shed_total", method).totalValue == 1)

            let call = Task { try await client.unary(TestMethods.wait, Echo(text: ""), options: CallOptions(timeout: .seconds(30))) }
            await stragglerStarted.wait()
            call.cancel()
            _ = await call.result
            await server.stats(until: { $0.stragglersNow == 1 })
            #expect(try metrics.expectCounter("drpc_server_stragglers_total", [("method", TestMethods.wait.name)]).totalValue == 1)
            #expect(try metrics.expectMeter("drpc_server_stragglers").lastValue == 1)
            #expect(try metrics.expectMeter("drpc_server_handlers_in_flight").lastValue == 1)
            gate.fire()
            await server.stats(until: { $0.handlersInFlight == 0 && $0.stragglersNow == 0 })
            #expect(try metrics.expectMeter("drpc_server_stragglers").lastValue == 0)
            #expect(try metrics.expectTimer("drpc_server_straggler_overrun_seconds").values.count == 1)
        }
    }
}
