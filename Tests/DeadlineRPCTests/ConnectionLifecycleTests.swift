@testable import DeadlineRPC
import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import Wire

@Suite("Connections: limits, shutdown, failures, reconnects", .serialized, .timeLimit(.minutes(5)))
struct ConnectionLifecycleTests {
    /// A router whose `wait` handler runs until cancelled and whose `gate` handler waits for a signal.
    static func router(probe: HandlerProbe, gate: Signal? = nil) -> Router {
        var router = Router()
        router.unary(TestMethods.wait) { _, context in try await probe.waitForCancellation(context) }
        router.unary(TestMethods.echo) { request, _ in
            if let gate {
                probe.started.fire()
                await gate.wait()
            }
            return request
        }
        return router
    }

    @Test("The call above the stream limit is refused with resourceExhausted; the connection survives")
    func streamLimit() async throws {
        let probe = HandlerProbe()
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = 1
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Self.router(probe: probe), configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let raw = try await RawConnection.connect(port: port)
            let request = try JSONEncoder().encode(Echo(text: "x"))
            try await raw.send(
                .callStart(CallStart(streamID: 1, method: TestMethods.wait.name)),
                .message(.whole(streamID: 1, ByteBuffer(bytes: request), endStream: true)),
                .callStart(CallStart(streamID: 3, method: TestMethods.wait.name)),
                .message(.whole(streamID: 3, ByteBuffer(bytes: request), endStream: true))
            )
            guard case .frame(.callEnd(let end))? = await raw.next() else {
                Issue.record("expected CALL_END for the refused stream")
                return
            }
            #expect(end.streamID == 3)
            #expect(end.status == .resourceExhausted)
            #expect(server.stats.refusedCalls == 1)
            // The connection lives on: cancel stream 1, then a new call on stream 5 runs.
            await probe.started.wait()
            try await raw.send(.cancel(streamID: 1, reason: .cancelled))
            await probe.finished.wait()
            await server.stats(until: { $0.handlersInFlight == 0 })
            let echo = try JSONEncoder().encode(Echo(text: "after"))
            try await raw.send(
                .callStart(CallStart(streamID: 5, method: TestMethods.echo.name)),
                .message(.whole(streamID: 5, ByteBuffer(bytes: echo), endStream: true))
            )
            var sawOK = false
            while let event = await raw.next() {
                if case .frame(.callEnd(let end)) = event {
                    #expect(end.streamID == 5)
                    #expect(end.status == .ok)
                    sawOK = true
                    break
                }
            }
            #expect(sawOK)
            await raw.close()
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }

    @Test("Graceful shutdown lets an in-flight call finish, refuses new connections, and run() returns")
    func gracefulShutdown() async throws {
        let probe = HandlerProbe()
        let gate = Signal()
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Self.router(probe: probe, gate: gate))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: port)
            let inFlight = Task { try await client.unary(TestMethods.echo, Echo(text: "in flight")) }
            await probe.started.wait()
            server.beginGracefulShutdown()
            // A new client cannot connect any more.
            let late = RPCClient(host: "127.0.0.1", port: port)
            let error = await #expect(throws: RPCError.self) { try await late.unary(TestMethods.echo, Echo(text: "late")) }
            #expect(error?.code == .unavailable)
            await late.close()
            gate.fire()
            let reply = try await inFlight.value
            #expect(reply.text == "in flight")
            try await group.waitForAll()  // run() returned: no connection or handler left.
            #expect(server.stats.handlersInFlight == 0)
            await client.close()
        }
    }

    @Test("Past the drain timeout, remaining calls end with unavailable and their handlers are cancelled")
    func drainTimeout() async throws {
        let probe = HandlerProbe()
        var configuration = RPCServer.Configuration()
        configuration.drainTimeout = .milliseconds(200)
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Self.router(probe: probe), configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: port)
            let inFlight = Task { try await client.unary(TestMethods.wait, Echo(text: "")) }
            await probe.started.wait()
            server.beginGracefulShutdown()
            let result = await inFlight.result
            guard case .failure(let error as RPCError) = result else {
                Issue.record("expected RPCError, got \(result)")
                return
            }
            #expect(error.code == .unavailable)
            await probe.cancelled.wait()
            #expect(probe.observedReason == .shuttingDown)
            try await group.waitForAll()
            await client.close()
        }
    }

    @Test("Closing the client mid-call fails the call with unavailable and cancels the server's handler")
    func clientClosesMidCall() async throws {
        let probe = HandlerProbe()
        try await withServerAndClient(router: Self.router(probe: probe)) { server, client in
            let inFlight = Task { try await client.unary(TestMethods.wait, Echo(text: "")) }
            await probe.started.wait()
            await client.close()
            let result = await inFlight.result
            guard case .failure(let error as RPCError) = result else {
                Issue.record("expected RPCError, got \(result)")
                return
            }
            #expect(error.code == .unavailable)
            await probe.cancelled.wait()
            await server.stats(until: { $0.handlersInFlight == 0 })
        }
    }

    @Test("Stopping the server hard mid-call fails the call with unavailable exactly once")
    func serverStopsMidCall() async throws {
        let probe = HandlerProbe()
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Self.router(probe: probe))
        let serving = Task { try await server.run() }
        let port = try await server.listeningAddress.port!
        let client = RPCClient(host: "127.0.0.1", port: port)
        let inFlight = Task { try await client.unary(TestMethods.wait, Echo(text: "")) }
        await probe.started.wait()
        serving.cancel()
        let result = await inFlight.result
        guard case .failure(let error as RPCError) = result else {
            Issue.record("expected RPCError, got \(result)")
            return
        }
        #expect(error.code == .unavailable)
        _ = await serving.result
        #expect(probe.cancelled.isFired)
        #expect(server.stats.handlersInFlight == 0)
        await client.close()
    }

    @Test("Stopping the server hard while its accept loop is behind still closes every accepted connection and cancels its handlers before run() returns")
    func serverStopsWithConnectionsNotYetTaken() async throws {
        let probes = [HandlerProbe(), HandlerProbe()]
        var router = Router()
        for (index, method) in [TestMethods.wait, TestMethods.echo].enumerated() {
            router.unary(method) { _, context in try await probes[index].waitForCancellation(context) }
        }
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        // run() on an executor the test holds: connections are accepted and served on the event loops while the
        // server's own task, which takes them into its task group, cannot run.
        let executor = HeldExecutor()
        let serving = Task(executorPreference: executor) { try await server.run() }
        let port = try await server.listeningAddress.port!
        executor.hold()
        let clients = [RPCClient(host: "127.0.0.1", port: port), RPCClient(host: "127.0.0.1", port: port)]
        let calls = [
            Task { try await clients[0].unary(TestMethods.wait, Echo(text: "")) },
            Task { try await clients[1].unary(TestMethods.echo, Echo(text: "")) },
        ]
        for probe in probes { await probe.started.wait() }
        serving.cancel()
        executor.release()
        _ = await serving.result
        // run() has returned: every handler it started must have been cancelled and have returned.
        for probe in probes { #expect(probe.cancelled.isFired) }
        #expect(server.stats.handlersInFlight == 0)
        for call in calls {
            let result = await call.result
            guard case .failure(let error as RPCError) = result else {
                Issue.record("expected RPCError, got \(result)")
                continue
            }
            #expect(error.code == .unavailable)
        }
        for client in clients { await client.close() }
    }

    @Test("In process too: connections handed to the server while its accept loop is behind are closed before a cancelled run() returns")
    func inProcessStopsWithConnectionsNotYetTaken() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let server = RPCServer(inProcessName: "held", router: Router(), configuration: RPCServer.Configuration(), eventLoopGroup: loop)
        let executor = HeldExecutor()
        let serving = Task(executorPreference: executor) { try await server.run() }
        _ = try await server.listeningAddress
        executor.hold()
        // Two server ends: the accept loop, suspended for the first, can only be handed the second later.
        let channels = [NIOAsyncTestingChannel(loop: loop), NIOAsyncTestingChannel(loop: loop)]
        var closed: [Signal] = []
        for channel in channels {
            let signal = Signal()
            channel.closeFuture.whenComplete { _ in signal.fire() }
            closed.append(signal)
            try await loop.executeInContext { try server.acceptInProcess(channel) }
        }
        serving.cancel()
        executor.release()
        _ = await serving.result
        // run() has returned: it owned both connections, so both are closed.
        for signal in closed { #expect(signal.isFired) }
        try await loop.shutdownGracefully()
    }

    @Test("The client reconnects after the server restarts on the same port")
    func reconnect() async throws {
        let probe = HandlerProbe()
        let first = RPCServer(host: "127.0.0.1", port: 0, router: Self.router(probe: probe))
        let firstRun = Task { try await first.run() }
        let port = try await first.listeningAddress.port!
        var configuration = RPCClient.Configuration()
        configuration.backoff.initial = .milliseconds(10)
        configuration.backoff.maximum = .milliseconds(50)
        let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
        let options = CallOptions(timeout: .seconds(30))  // A lost reply fails the test instead of hanging it.
        let describe: @Sendable () async -> String = { "client: \(await client.debugSnapshot())" }
        let one = try await watchdog("the first call", describe: describe) {
            try await client.unary(TestMethods.echo, Echo(text: "1"), options: options)
        }
        #expect(one.text == "1")
        first.beginGracefulShutdown()
        try await watchdog("the first server's run() after graceful shutdown", describe: { "first: \(first.stats); \(await describe())" }) {
            try await firstRun.value
        }

        let down = await #expect(throws: RPCError.self) {
            try await watchdog("the call while no server listens", describe: describe) {
                try await client.unary(TestMethods.echo, Echo(text: "down"), options: options)
            }
        }
        #expect(down?.code == .unavailable)

        let second = RPCServer(host: "127.0.0.1", port: port, router: Self.router(probe: probe))
        let secondRun = Task { try await second.run() }
        _ = try await second.listeningAddress
        var reply: Echo? = nil
        for _ in 0..<200 where reply == nil {
            do {
                reply = try await watchdog("a call after the restart", describe: describe) {
                    try await client.unary(TestMethods.echo, Echo(text: "2"), options: options)
                }
            } catch let error as RPCError where error.code == .unavailable {
                try await Task.sleep(for: .milliseconds(10))  // Backoff window: try again.
            }
        }
        #expect(reply?.text == "2")
        await watchdog("client.close()", describe: describe) { await client.close() }
        second.beginGracefulShutdown()
        try await watchdog("the second server's run() after graceful shutdown", describe: { "second: \(second.stats)" }) {
            try await secondRun.value
        }
    }

    @Test("A slow reader of one stream stalls neither other calls nor memory")
    func slowReaderIsolation() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.serverStreaming(TestMethods.expand) { _, writer, _ in
            let chunk = Echo(text: String(repeating: "x", count: 16 * 1024))
            for _ in 0..<300 { try await writer.write(chunk) }  // ~5 MB, far beyond one credit window.
        }
        try await withServerAndClient(router: router) { _, client in
            try await client.serverStreaming(TestMethods.expand, Echo(text: "")) { responses in
                var iterator = responses.makeAsyncIterator()
                _ = try await iterator.next()  // Read one, then stall while other calls run.
                for i in 0..<50 {
                    let reply = try await client.unary(TestMethods.echo, Echo(text: "\(i)"))
                    #expect(reply.text == "\(i)")
                }
                var count = 1
                while try await iterator.next() != nil { count += 1 }
                #expect(count == 300)
            }
        }
    }

    @Test("A server in a separate process serves calls, enforces deadlines, and exits cleanly on SIGTERM")
    func separateProcess() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binary = try ChildProcess.findExecutable("demo-services", root: root)
        let process = Process()
        process.executableURL = binary
        process.arguments = ["echo-server", "--port", "0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let line = try await ChildProcess.readLine(output.fileHandleForReading)
        let port = try #require(Int(line.replacingOccurrences(of: "listening on ", with: "")))

        let client = RPCClient(host: "127.0.0.1", port: port)
        let echo = Method<Echo, Echo>.unary("demo.Echo/Get")
        let wait = Method<Echo, Echo>.unary("demo.Echo/Wait")
        #expect(try await client.unary(echo, Echo(text: "across processes")).text == "across processes")
        let error = await #expect(throws: RPCError.self) {
            try await client.unary(wait, Echo(text: ""), options: CallOptions(timeout: .milliseconds(100)))
        }
        #expect(error?.code == .deadlineExceeded)
        await client.close()

        process.terminate()  // SIGTERM: the service group drains and exits.
        await ChildProcess.waitForExit(process)
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }
}
