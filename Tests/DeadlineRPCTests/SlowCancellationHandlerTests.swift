@testable import DeadlineRPC
import Glibc
import Testing

/// A handler's cancellation handlers (`withTaskCancellationHandler`'s `onCancel`) run inside `Task.cancel()`, which the
/// server calls on the connection's event loop: one that blocks holds every connection on that loop. The runtime
/// cannot stop such code, so it names it (README, "Handlers that block").
@Suite("Cancellation handlers that block the event loop", .timeLimit(.minutes(1)))
struct SlowCancellationHandlerTests {
    static let slow = Method<Echo, Echo>.unary("test.Slow/Cancel")

    /// Starts `method`, waits until its handler runs, cancels the caller, waits until the handler's cancellation
    /// handler has run, lets it return (`gate`), and waits until it has.
    static func cancelOneCall(_ method: Method<Echo, Echo>, client: RPCClient, server: RPCServer, started: Signal, cancelled: Signal, gate: Signal) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await client.unary(method, Echo(text: "x"), options: CallOptions(timeout: .seconds(60))) }
            await started.wait()
            group.cancelAll()
        }
        await cancelled.wait()
        gate.fire()
        await server.stats(until: { $0.handlersInFlight == 0 })
    }

    @Test("Cancelling a handler whose onCancel blocks for 50 ms logs a warning with the method and the time, and counts it; a quick one is not reported")
    func slowOnCancelIsReported() async throws {
        let logs = LogCapture()
        var configuration = RPCServer.Configuration()
        configuration.logger = logs.logger(label: "server")
        let (quickStarted, quickCancelled, quickGate) = (Signal(), Signal(), Signal())
        let (slowStarted, slowCancelled, slowGate) = (Signal(), Signal(), Signal())
        // `wait` fires a signal in its onCancel: quick.
        var router = Router.heldCalls(started: quickStarted, gate: quickGate, cancelled: quickCancelled)
        router.unary(Self.slow) { request, _ in
            slowStarted.fire()
            await withTaskCancellationHandler {
                await slowGate.wait()
            } onCancel: {
                // The subject of the test: a cancellation handler that blocks, for a time, the thread that cancels
                // (the connection's event loop). Only a duration can make the warning's "over 10 ms" true.
                usleep(50_000)
                slowCancelled.fire()
            }
            return request
        }
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, client in
            await Self.cancelOneCall(TestMethods.wait, client: client, server: server, started: quickStarted, cancelled: quickCancelled, gate: quickGate)
            #expect(server.stats.slowCancellationHandlers == 0)

            await Self.cancelOneCall(Self.slow, client: client, server: server, started: slowStarted, cancelled: slowCancelled, gate: slowGate)
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
