@testable import DeadlineRPC
import Glibc
import Testing

/// A handler's cancellation handlers (`withTaskCancellationHandler`'s `onCancel`) run inside `Task.cancel()`, which the
/// server calls on the connection's event loop: one that blocks holds every connection on that loop. The runtime
/// cannot stop such code, so it names it (README, "Handlers that block").
@Suite("Cancellation handlers that block the event loop", .timeLimit(.minutes(1)))
struct SlowCancellationHandlerTests {
    static let slow = Method<Echo, Echo>.unary("test.Slow/Cancel")

    /// Starts `method`, waits until its handler runs, cancels the caller, and waits until the handler has returned.
    static func cancelOneCall(_ method: Method<Echo, Echo>, client: RPCClient, server: RPCServer, started: Signal) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await client.unary(method, Echo(text: "x"), options: CallOptions(timeout: .seconds(60))) }
            await started.wait()
            group.cancelAll()
        }
        await server.stats(until: { $0.handlersInFlight == 0 })
    }

    @Test("Cancelling a handler whose onCancel blocks for 50 ms logs a warning with the method and the time, and counts it; a quick one is not reported")
    func slowOnCancelIsReported() async throws {
        let logs = LogCapture()
        var configuration = RPCServer.Configuration()
        configuration.logger = logs.logger(label: "server")
        let quickStarted = Signal()
        let slowStarted = Signal()
        var router = Router()
        router.unary(TestMethods.wait) { request, _ in
            quickStarted.fire()
            try? await Task.sleep(for: .seconds(60))  // Ends at the cancel.
            return request
        }
        router.unary(Self.slow) { request, _ in
            slowStarted.fire()
            await withTaskCancellationHandler {
                try? await Task.sleep(for: .seconds(60))
            } onCancel: {
                usleep(50_000)  // Runs on the thread that cancels: the connection's event loop.
            }
            return request
        }
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, client in
            await Self.cancelOneCall(TestMethods.wait, client: client, server: server, started: quickStarted)
            #expect(server.stats.slowCancellationHandlers == 0)

            await Self.cancelOneCall(Self.slow, client: client, server: server, started: slowStarted)
            let line = await logs.first { $0.message.hasPrefix("Cancelling the handler held the event loop") }
            #expect(line?.level == .warning)
            #expect(line?.metadata["drpc.method"] == "test.Slow/Cancel")
            let held = line?.metadata["drpc.cancellation_handler_ms"].flatMap { Int("\($0)") } ?? 0
            #expect(held >= 50)
            #expect(line?.message == "Cancelling the handler held the event loop for \(held) ms: a cancellation handler (withTaskCancellationHandler's onCancel) in it, or in what it awaits, blocks; keep them short")
            await server.stats(until: { $0.slowCancellationHandlers == 1 })
        }
    }
}
