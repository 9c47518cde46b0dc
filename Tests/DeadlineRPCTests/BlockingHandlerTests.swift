@testable import DeadlineRPC
import Glibc
import MetricsTestKit
import NIOCore
import Synchronization
import Testing
import TestSupport

/// A handler that holds its thread (or awaits something no cancellation reaches) is still cancelled at its deadline,
/// detected as a straggler, and recorded with the status its caller saw — without waiting for it to give the thread
/// back — while other calls keep being served. Each case holds the handler until the test has seen all of that, so
/// nothing here can pass by the handler returning first.
///
/// Each case runs in a child process of its own (an exit test): a blocked handler takes one of the cooperative
/// pool's threads (one per core) for as long as it is held, and in the shared test process that starved every other
/// suite (and so the case's own awaits) for tens of seconds. Heavyweight too, as the busy loop takes a core.
@Suite(
    "Handlers that block their thread",
    .serialized,
    .heavyweight,
    .timeLimit(.minutes(5)),
    // With one core the pool has one thread: the blocked handler holds it, and nothing else in the child process
    // (the case's own awaits and callers included) runs again until it is released, which only those awaits do.
    .enabled(if: usableCores > 1, "needs two cores: a blocked handler holds the cooperative pool's only thread on one")
)
struct BlockingHandlerTests {
    /// How the handler ignores its cancellation.
    enum Blocking: String, CaseIterable, Codable, Sendable, CustomTestStringConvertible {
        /// `usleep` in a loop: the thread sleeps in the kernel.
        case sleeps
        /// A busy loop: the thread burns a core.
        case spins
        /// Awaits an event no cancellation reaches: the thread is free, the task is not.
        case awaitsForever

        var testDescription: String { self.rawValue }
    }

    /// The configured executor: nil leaves the default.
    struct Executor: Sendable, CustomTestStringConvertible {
        var choice: RPCServer.HandlerExecutor?
        var testDescription: String
        /// Its place in ``all``: what crosses into the child process.
        var index: Int

        @available(*, deprecated, message: "Names the deprecated case on purpose: it must keep the guarantees too.")
        static var all: [Executor] {
            [
                Executor(choice: nil, testDescription: "default", index: 0),
                Executor(choice: .globalConcurrent, testDescription: "globalConcurrent", index: 1),
                Executor(choice: .eventLoop, testDescription: "eventLoop (deprecated)", index: 2),
            ]
        }
    }

    /// Set once by the test to let the blocked handler go.
    final class Release: Sendable {
        private let released = Atomic<Bool>(false)
        let gate = Signal()
        var isReleased: Bool { self.released.load(ordering: .acquiring) }
        func release() {
            self.released.store(true, ordering: .releasing)
            self.gate.fire()
        }
    }

    @available(*, deprecated, message: "Uses Executor.all, which names the deprecated case.")
    @Test(
        "A blocked handler is cancelled at its deadline, counted, logged and exported as a straggler, and recorded DEADLINE_EXCEEDED, while other calls are served",
        arguments: Blocking.allCases, Executor.all
    )
    func blockedHandler(blocking: Blocking, executor: Executor) async throws {
        let index = executor.index
        let child = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) { [blocking = blocking as Blocking, index = index as Int] in
            try await Self.scenario(blocking: blocking, executor: Executor.all[index])
        }
        // The child's report line (see below), for docs/PERFORMANCE.md.
        if let child { print(String(decoding: child.standardOutputContent, as: UTF8.self), terminator: "") }
    }

    /// The case itself, run in the child process; its issues are reported by the parent's test.
    @available(*, deprecated, message: "Runs every Executor, the deprecated case included.")
    static func scenario(blocking: Blocking, executor: Executor) async throws {
        let capture = LogCapture()
        let metrics = TestMetrics()
        let started = Signal()
        let cancelled = Signal()
        let cancelledAt = Mutex<ContinuousClock.Instant?>(nil)
        let release = Release()
        var configuration = RPCServer.Configuration()
        if let choice = executor.choice { configuration.handlerExecutor = choice }
        configuration.stragglerGracePeriod = .milliseconds(100)
        configuration.logger = capture.logger(label: "server", level: .info)
        configuration.metricsFactory = metrics
        let grace = configuration.stragglerGracePeriod
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.unary(TestMethods.wait) { request, _ in
            await withTaskCancellationHandler {
                started.fire()
                switch blocking {
                case .sleeps:
                    while !release.isReleased { usleep(1_000) }
                case .spins:
                    while !release.isReleased {}
                case .awaitsForever:
                    await release.gate.wait(timeout: .seconds(120))
                }
            } onCancel: {
                cancelledAt.withLock { $0 = .now }
                cancelled.fire()
            }
            return request
        }
        let stillRunning = "Handler still running"
        let returned = "Straggler handler returned"
        let wait = TestMethods.wait.name
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, client in
            // Lets the handler go even when an expectation below fails, so a failing run does not hang.
            defer { release.release() }
            // Long enough to reach the handler on a loaded machine (a call arriving with its budget spent is shed
            // without running it); the handler blocks until released, so the deadline passes while it does.
            let call = Task { try await client.unary(TestMethods.wait, Echo(text: "blocked"), options: CallOptions(timeout: .seconds(1))) }
            #expect(await started.wait(timeout: .seconds(30)))

            // The server's own deadline timer cancels the handler's task while the handler still holds its thread.
            #expect(await cancelled.wait(timeout: .seconds(30)))
            await #expect(throws: RPCError.self) { try await call.value }
            #expect((await call.result.failure as? RPCError)?.code == .deadlineExceeded)

            // Other calls are served meanwhile: on the same connection, and on another one.
            // (Bounded, so that a runtime that fails this fails the test instead of hanging it.)
            let bounded = CallOptions(timeout: .seconds(10))
            #expect(try await client.unary(TestMethods.echo, Echo(text: "same connection"), options: bounded) == Echo(text: "same connection"))
            let port = try await server.listeningAddress.port!
            let other = RPCClient(host: "127.0.0.1", port: port)
            for index in 0..<20 {
                #expect(try await other.unary(TestMethods.echo, Echo(text: "\(index)"), options: bounded) == Echo(text: "\(index)"))
            }
            await other.close()

            // A grace period after the deadline it is a straggler: logged, counted and exported.
            let warning = await capture.first(timeout: .seconds(10)) { $0.message.hasPrefix(stillRunning) }
            #expect(warning?.level == .warning)
            #expect(warning?.metadata["drpc.method"] == "\(wait)")
            #expect(warning?.metadata["drpc.call_id"] != nil)
            #expect(warning?.metadata["drpc.cancel_reason"] == "deadline exceeded")
            if let warning, let cancelled = cancelledAt.withLock({ $0 }) {
                // Reported, not asserted (speed belongs in reports): how long after its grace period ran out the
                // straggler was logged. docs/PERFORMANCE.md quotes these lines.
                let late = warning.at - cancelled - grace
                print("straggler-detection blocking=\(blocking) executor=\(executor.testDescription) late_after_grace_us=\(late.components.seconds * 1_000_000 + late.components.attoseconds / 1_000_000_000_000)")
            }
            #expect(server.stats.stragglersNow == 1)
            #expect(server.stats.stragglersTotal == 1)
            #expect(server.stats.handlersInFlight == 1)
            #expect(try metrics.expectCounter("drpc_server_stragglers_total", [("method", wait)]).totalValue == 1)
            #expect(try metrics.expectMeter("drpc_server_stragglers").lastValue == 1)
            // Recorded with the status the caller saw, before the handler returned.
            #expect(try metrics.expectCounter("drpc_server_calls_finished_total", [("method", wait), ("code", "DEADLINE_EXCEEDED")]).totalValue == 1)
            #expect(!Self.finished(metrics, method: wait, code: "OK"))
            // None of it waited for the handler: it still holds on.
            #expect(!release.isReleased)
            #expect(!capture.records.contains { $0.message == returned })

            release.release()
            let done = await capture.first(timeout: .seconds(10)) { $0.message == returned }
            #expect(done?.metadata["drpc.call_id"] == warning?.metadata["drpc.call_id"])
            #expect(server.stats.handlersInFlight == 0)
            #expect(server.stats.stragglersNow == 0)
            // The handler's own OK, arriving late, changes nothing.
            #expect(!Self.finished(metrics, method: wait, code: "OK"))
            #expect(try metrics.expectCounter("drpc_server_calls_finished_total", [("method", wait), ("code", "DEADLINE_EXCEEDED")]).totalValue == 1)
        }
    }

    /// Whether any call of `method` was recorded as finished with `code`.
    static func finished(_ metrics: TestMetrics, method: String, code: String) -> Bool {
        metrics.counters.contains { counter in
            counter.label == "drpc_server_calls_finished_total"
                && counter.dimensions.contains { $0 == ("method", method) }
                && counter.dimensions.contains { $0 == ("code", code) }
                && counter.totalValue > 0
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
