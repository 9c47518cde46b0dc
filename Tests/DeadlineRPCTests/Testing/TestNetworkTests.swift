import DeadlineRPC
import DeadlineRPCTesting
import Synchronization
import Testing

/// A gate a handler waits at without regard to cancellation (the leak the quiescence check must catch), opened
/// by the test.
final class StubbornGate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = self.state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = self.state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

@Suite("Testing kit: in-process network and manual clock", .timeLimit(.minutes(2)))
struct TestNetworkTests {
    static let hop = Method<Echo, Echo>.unary("test.Chain/Hop")

    /// Serves `names` as a chain: each calls the next through a network client; the last waits for cancellation.
    static func serveChain(_ names: [String], on network: TestNetwork) async throws {
        // guide:begin testing-chain
        for (index, name) in names.enumerated() {
            var router = Router()
            if index + 1 < names.count {
                let downstream = network.client(to: names[index + 1])
                router.unary(Self.hop) { request, _ in try await downstream.unary(Self.hop, request) }
            } else {
                router.unary(Self.hop) { request, _ in
                    try await untilCancelled()  // Honours cancellation, and does nothing else.
                    return request
                }
            }
            try await network.serve(router, as: name)
        }
        // guide:end testing-chain
    }

    @Test("A unary call crosses the in-process connection; the handler's metadata and budget are recorded exactly")
    func roundTrip() async throws {
        try await withTestNetwork { network in
            // guide:begin testing-serve
            var router = Router()
            router.unary(TestMethods.echo) { request, context in
                Echo(text: "\(request.text) \(context.metadata.first(forKey: "x-tenant") ?? "-")")
            }
            try await network.serve(router, as: "echo")
            let client = network.client(to: "echo")
            var options = CallOptions(timeout: .milliseconds(250))
            try options.metadata.insert("acme", forKey: "x-tenant")
            let reply = try await client.unary(TestMethods.echo, Echo(text: "hi"), options: options)
            #expect(reply == Echo(text: "hi acme"))
            let call = try #require(network.calls.calls.first)
            #expect(network.calls.calls.count == 1)
            #expect(call.server == "echo")
            #expect(call.method == TestMethods.echo.name)
            #expect(call.metadata.first(forKey: "x-tenant") == "acme")
            // No time passes on the manual clock: the handler got the whole budget, to the nanosecond.
            #expect(call.remainingBudget == .milliseconds(250))
            // guide:end testing-serve
            #expect(call.deadline == network.now + .milliseconds(250))
            #expect(call.end?.error == nil)
            #expect(call.end?.cancelReason == nil)
        }
    }

    @Test("Deadline.now() and the handler's timeRemaining read the manual clock")
    func handlerSeesManualClock() async throws {
        try await withTestNetwork { network in
            let gate = StubbornGate()
            var router = Router()
            router.unary(TestMethods.echo) { _, context in
                await gate.wait()
                let left = try #require(context.timeRemaining)
                return Echo(text: "\(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)")
            }
            try await network.serve(router, as: "clock")
            let client = network.client(to: "clock")
            let start = Deadline.now()
            #expect(start == network.now)
            async let reply = client.unary(TestMethods.echo, Echo(text: ""), options: CallOptions(timeout: .milliseconds(200)))
            await network.calls.started(TestMethods.echo.name)
            await network.advance(by: .milliseconds(150))
            #expect(Deadline.now() - start == .milliseconds(150))
            gate.open()
            #expect(try await reply == Echo(text: "50"))
        }
    }

    @Test("client → A → B → C, 200 ms: nothing ends at 199 ms; at 200 ms every hop's handler is cancelled with cause deadlineExceeded, zero sleeps")
    func deterministicDeadlineCascade() async throws {
        try await withTestNetwork { network in
            let names = ["A", "B", "C"]
            try await Self.serveChain(names, on: network)
            let client = network.client(to: "A")
            let start = network.now
            async let outcome: Result<Echo, RPCError> = {
                do { return .success(try await client.unary(Self.hop, Echo(text: "go"), options: CallOptions(timeout: .milliseconds(200)))) }
                catch let error as RPCError { return .failure(error) }
                catch { return .failure(RPCError(code: .unknown, message: "\(error)")) }
            }()
            // guide:begin testing-advance
            await network.calls.started(Self.hop.name, on: "C")
            for name in names {
                let call = try #require(network.calls.calls.first { $0.server == name })
                #expect(call.deadline == start + .milliseconds(200), "\(name)'s deadline")
                #expect(call.remainingBudget == .milliseconds(200), "\(name)'s budget")
                #expect(call.hopCount == names.firstIndex(of: name)!, "\(name)'s hop count")
            }

            await network.advance(by: .milliseconds(199))
            #expect(network.calls.running.count == 3, "nothing ends a millisecond early")

            await network.advance(by: .milliseconds(1))
            for name in names {
                let ended = try #require(await network.calls.ended(Self.hop.name, on: name))
                #expect(ended.end?.cancelReason == .deadlineExceeded, "\(name)'s cause")
                #expect(ended.end?.taskWasCancelled == true, "\(name)'s task")
                #expect(ended.end?.at == start + .milliseconds(200), "\(name) ended at the deadline, not later")
            }
            // guide:end testing-advance
            guard case .failure(let error) = await outcome else {
                Issue.record("the call succeeded")
                return
            }
            #expect(error.code == .deadlineExceeded)
            #expect(error.cancelReason == .deadlineExceeded)
            try await network.expectQuiescent()
        }
    }

    @Test("Cancelling the caller cancels every hop's handler, and its downstream calls, with cause cancelled")
    func callerCancellationCascade() async throws {
        try await withTestNetwork { network in
            let names = ["A", "B", "C"]
            try await Self.serveChain(names, on: network)
            let client = network.client(to: "A")
            // guide:begin testing-cancel
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let error = await #expect(throws: RPCError.self) {
                        try await client.unary(Self.hop, Echo(text: "go"), options: CallOptions(timeout: .seconds(30)))
                    }
                    #expect(error?.code == .cancelled)
                    #expect(error?.cancelReason == .cancelled)
                }
                await network.calls.started(Self.hop.name, on: "C")
                group.cancelAll()
                try await group.waitForAll()
            }
            // guide:end testing-cancel
            for name in names {
                let ended = try #require(await network.calls.ended(Self.hop.name, on: name))
                #expect(ended.end?.cancelReason == .cancelled, "\(name)'s cause")
                #expect(ended.end?.taskWasCancelled == true, "\(name)'s task")
            }
            // No time passed: the cancel travelled down without the clock moving.
            #expect(network.calls.calls.allSatisfy { $0.end?.at == $0.startedAt })
            try await network.expectQuiescent()
        }
    }

    @Test("The leak check reports a handler that ignores cancellation, by name, and passes once it returns")
    func leakCheckCatchesStubbornHandler() async throws {
        try await withTestNetwork { network in
            let gate = StubbornGate()
            var router = Router()
            router.unary(TestMethods.wait) { request, _ in
                await gate.wait()  // Ignores its task's cancellation.
                return request
            }
            try await network.serve(router, as: "stubborn")
            let client = network.client(to: "stubborn")
            async let outcome: RPCError? = {
                do {
                    _ = try await client.unary(TestMethods.wait, Echo(text: ""), options: CallOptions(timeout: .milliseconds(100)))
                    return nil
                } catch let error as RPCError { return error }
                catch { return RPCError(code: .unknown, message: "\(error)") }
            }()
            await network.calls.started(TestMethods.wait.name)
            await network.advance(by: .milliseconds(100))
            #expect(await outcome?.code == .deadlineExceeded)

            // guide:begin testing-leak
            let report = await network.quiescence(grace: .milliseconds(200))
            #expect(!report.isQuiescent)
            #expect(report.runningHandlers.map(\.method) == [TestMethods.wait.name])
            #expect(report.handlerTasks["stubborn"] == 1)
            #expect(report.description.contains("handler still running: stubborn \(TestMethods.wait.name)"))
            await #expect(throws: QuiescenceError.self) { try await network.expectQuiescent(grace: .milliseconds(50)) }
            // guide:end testing-leak

            gate.open()
            await network.calls.allEnded()
            let after = await network.quiescence()
            #expect(after.isQuiescent, "\(after)")
            // Its call had been cancelled by its deadline while it ignored that.
            #expect(network.calls.calls.first?.end?.cancelReason == .deadlineExceeded)
        }
    }

    @Test("A client dialling a name nobody serves fails unavailable, naming it")
    func unknownServer() async throws {
        try await withTestNetwork { network in
            let client = network.client(to: "nobody")
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: ""), options: CallOptions(timeout: .seconds(1)))
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("nobody") == true)
        }
    }

    @Test("Graceful shutdown in process: GOAWAY lets the call in flight finish, and the server stops")
    func goAwayInProcess() async throws {
        try await withTestNetwork { network in
            let gate = StubbornGate()
            var router = Router()
            router.unary(TestMethods.wait) { request, _ in
                await gate.wait()
                return request
            }
            let server = try await network.serve(router, as: "draining")
            let client = network.client(to: "draining")
            async let reply = client.unary(TestMethods.wait, Echo(text: "kept"), options: CallOptions(timeout: .seconds(10)))
            await network.calls.started(TestMethods.wait.name)
            server.beginGracefulShutdown()
            gate.open()
            #expect(try await reply == Echo(text: "kept"))
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.wait, Echo(text: "late"), options: CallOptions(timeout: .seconds(1)))
            }
            #expect(error?.code == .unavailable)
        }
    }
}
