import DeadlineRPC
import DeadlineRPCTesting
import NIOCore
import Synchronization
import Testing

/// Records what a handler observed, so a test can await it.
final class HandlerProbe: Sendable {
    let started = Signal()
    let cancelled = Signal()
    let finished = Signal()
    private let reason = Mutex<CancelReason?>(nil)
    private let sawDeadline = Mutex<Deadline?>(nil)

    var observedReason: CancelReason? { self.reason.withLock { $0 } }

    /// Records the cause a middle hop saw and signals `cancelled` (first call wins).
    func recordCancel(_ reason: CancelReason?) {
        self.reason.withLock { if $0 == nil { $0 = reason } }
        self.cancelled.fire()
    }
    var observedDeadline: Deadline? { self.sawDeadline.withLock { $0 } }

    /// A handler that signals it started, then waits for its task to be cancelled.
    func waitForCancellation(_ context: CallContext) async throws -> Echo {
        self.sawDeadline.withLock { $0 = context.deadline }
        defer { self.finished.fire() }
        await withTaskCancellationHandler {
            self.started.fire()
            await self.cancelled.wait()
        } onCancel: {
            self.reason.withLock { $0 = context.cancelReason }
            self.cancelled.fire()
        }
        throw CancellationError()
    }
}

@Suite("Deadlines and cancellation on one hop", .timeLimit(.minutes(5)))
struct DeadlineAndCancelTests {
    static func router(_ probe: HandlerProbe) -> Router {
        var router = Router()
        router.unary(TestMethods.wait) { _, context in try await probe.waitForCancellation(context) }
        router.unary(TestMethods.echo) { request, _ in request }
        return router
    }

    /// What a call threw (nil when it returned), so a test can start it with `async let` and read the outcome later.
    static func failure(_ call: @Sendable () async throws -> Echo) async -> RPCError? {
        do {
            _ = try await call()
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            return RPCError(code: .unknown, message: "not an RPCError: \(error)")
        }
    }

    // In process on DeadlineRPCTesting's manual clock (it was a real 1 s wait with a ±10 ms window): the instant
    // the deadline fires is exact, and a millisecond early nothing has happened. The TCP path of deadlines is
    // covered by CascadeTests and the Hostile suites.
    @Test("Client deadline fails the call with deadlineExceeded at exactly its budget and cancels the handler task")
    func clientDeadline() async throws {
        let probe = HandlerProbe()
        try await withTestNetwork { network in
            try await network.serve(Self.router(probe), as: "server")
            let client = network.client(to: "server")
            let start = network.now
            async let error = Self.failure {
                try await client.unary(TestMethods.wait, Echo(text: ""), options: CallOptions(timeout: .milliseconds(1000)))
            }
            await probe.started.wait()
            await network.advance(by: .milliseconds(999))
            // The handler's cancellation runs inside the clock's advance, so "not yet" is a fact, not a race.
            #expect(!probe.cancelled.isFired, "not cancelled a millisecond early")
            await network.advance(by: .milliseconds(1))
            #expect(await error?.code == .deadlineExceeded)
            #expect(await error?.cancelReason == .deadlineExceeded)
            await probe.cancelled.wait()
            await probe.finished.wait()
            #expect(probe.observedReason == .deadlineExceeded)
            #expect(probe.observedDeadline == start + .milliseconds(1000))
            let handled = try #require(await network.calls.ended(TestMethods.wait.name))
            #expect(handled.end?.at == start + .milliseconds(1000))
            try await network.expectQuiescent()
        }
    }

    // In process on the manual clock (was a real 800 ms wait): the server's cap, not the client's 30 s, ends it.
    @Test("The server enforces a deadline on its own clock (budget capped by maxInboundBudget), at exactly the cap")
    func serverDeadline() async throws {
        let probe = HandlerProbe()
        var configuration = RPCServer.Configuration()
        configuration.maxInboundBudget = .milliseconds(800)
        try await withTestNetwork { network in
            try await network.serve(Self.router(probe), as: "server", configuration: configuration)
            let client = network.client(to: "server")
            let start = network.now
            async let error = Self.failure {
                // The client allows 30 s; the server cuts the budget to 800 ms and ends the call itself.
                try await client.unary(TestMethods.wait, Echo(text: ""), options: CallOptions(timeout: .seconds(30)))
            }
            await probe.started.wait()
            #expect(probe.observedDeadline == start + .milliseconds(800))
            await network.advance(by: .milliseconds(799))
            #expect(!probe.cancelled.isFired, "not cancelled before the cap")
            await network.advance(by: .milliseconds(1))
            #expect(await error?.code == .deadlineExceeded)
            await probe.cancelled.wait()
            #expect(probe.observedReason == .deadlineExceeded)
            try await network.expectQuiescent()
        }
    }

    // In process on the manual clock (was a real 800 ms wait).
    @Test("maxInboundBudget also bounds a call that arrives without any deadline, at exactly the cap")
    func inboundCapWithoutDeadline() async throws {
        let probe = HandlerProbe()
        var configuration = RPCServer.Configuration()
        configuration.maxInboundBudget = .milliseconds(800)
        try await withTestNetwork { network in
            try await network.serve(Self.router(probe), as: "server", configuration: configuration)
            let client = network.client(to: "server")
            let start = network.now
            async let error = Self.failure {
                try await client.unary(TestMethods.wait, Echo(text: ""))  // No deadline from the client at all.
            }
            await probe.started.wait()
            #expect(probe.observedDeadline == start + .milliseconds(800))
            let handled = try #require(await network.calls.started(TestMethods.wait.name))
            #expect(handled.remainingBudget == .milliseconds(800))
            await network.advance(by: .milliseconds(799))
            #expect(!probe.cancelled.isFired, "not cancelled before the cap")
            await network.advance(by: .milliseconds(1))
            #expect(await error?.code == .deadlineExceeded)
            await probe.cancelled.wait()
            #expect(probe.observedReason == .deadlineExceeded)
            try await network.expectQuiescent()
        }
    }

    @Test("Cancelling the caller's task cancels the server's handler task, with cause 'cancelled'")
    func clientCancel() async throws {
        let probe = HandlerProbe()
        try await withServerAndClient(router: Self.router(probe)) { server, client in
            let call = Task {
                try await client.unary(TestMethods.wait, Echo(text: ""), options: CallOptions(timeout: .seconds(30)))
            }
            await probe.started.wait()
            call.cancel()
            let result = await call.result
            guard case .failure(let error as RPCError) = result else {
                Issue.record("expected an RPCError, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
            #expect(error.cancelReason == .cancelled)
            await probe.cancelled.wait()
            await probe.finished.wait()
            #expect(probe.observedReason == .cancelled)
            await server.stats(until: { $0.handlersInFlight == 0 })
        }
    }

    @Test("A call arriving below the server's minimum budget is shed without running the handler")
    func shedding() async throws {
        let probe = HandlerProbe()
        var configuration = RPCServer.Configuration()
        configuration.minimumBudget = .seconds(5)
        try await withServerAndClient(router: Self.router(probe), serverConfiguration: configuration) { server, client in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.wait, Echo(text: ""), options: CallOptions(timeout: .seconds(1)))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(server.stats.shedCalls == 1)
            #expect(!probe.started.isFired)
            // Without a deadline, nothing is shed.
            let reply = try await client.unary(TestMethods.echo, Echo(text: "ok"))
            #expect(reply.text == "ok")
        }
    }

    @Test("A call whose budget is already spent fails locally and sends nothing")
    func spentBudgetFailsLocally() async throws {
        let probe = HandlerProbe()
        try await withServerAndClient(router: Self.router(probe)) { server, client in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: ""), options: CallOptions(deadline: .now()))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(server.stats.callsStarted == 0)
        }
    }

    @Test("Statuses and trailing metadata cross the wire exactly", arguments: Status.Code.allDefined.filter { $0 != .ok })
    func statusRoundTrip(code: Status.Code) async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in
            throw RPCError(code: code, message: "failure \(request.text) ✓", metadata: ["reason": "because", "detail-bin": .binary([0, 1, 255])])
        }
        try await withServerAndClient(router: router) { _, client in
            let error = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "x")) }
            #expect(error?.code == code)
            #expect(error?.message == "failure x ✓")
            #expect(error?.metadata == ["reason": "because", "detail-bin": .binary([0, 1, 255])])
        }
    }

    @Test("A handler error that is not an RPCError reaches the caller as unknown")
    func handlerErrorsThatAreNotRPCErrorsBecomeUnknown() async throws {
        struct Oops: Error {}
        var router = Router()
        router.unary(TestMethods.echo) { _, _ in throw Oops() }
        try await withServerAndClient(router: router) { _, client in
            let error = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "x")) }
            #expect(error?.code == .unknown)
        }
    }

    @Test("A request larger than the server's message limit fails with resourceExhausted")
    func oversizedRequest() async throws {
        var configuration = RPCServer.Configuration()
        configuration.limits.maxMessageSize = 64 * 1024
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in request }
        try await withServerAndClient(router: router, serverConfiguration: configuration) { _, client in
            // Warm the connection so the server's settings are known.
            _ = try await client.unary(TestMethods.raw, ByteBuffer(string: "warm"))
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.raw, ByteBuffer(repeating: 7, count: 64 * 1024 + 1))
            }
            #expect(error?.code == .resourceExhausted)
            let exact = try await client.unary(TestMethods.raw, ByteBuffer(repeating: 7, count: 64 * 1024))
            #expect(exact.readableBytes == 64 * 1024)
        }
    }

    @Test("A 3 MiB message is split into frames and arrives intact, compressed or not", arguments: [MessageEncoding.identity, .gzip, .deflate])
    func largeMessage(encoding: MessageEncoding) async throws {
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in request }
        try await withServerAndClient(router: router) { _, client in
            var payload = ByteBuffer()
            for i in 0..<(3 * 1024 * 1024 / 4) { payload.writeInteger(UInt32(i % 1000)) }
            let reply = try await client.unary(TestMethods.raw, payload, options: CallOptions(compression: encoding))
            #expect(reply == payload)
        }
    }
}
