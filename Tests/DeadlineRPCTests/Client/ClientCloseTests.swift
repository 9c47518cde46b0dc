@testable import DeadlineRPC
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

/// `RPCClient.close()` promises that when it returns nothing of the client is left: no call, and no connection —
/// including one still being opened, whose server has not answered yet. Run as a `Service`, a client shuts down
/// gracefully: the calls already made end first.
@Suite("Closing a client", .timeLimit(.minutes(2)))
struct ClientCloseTests {
    /// A TCP listener that accepts and never answers (no settings), reporting each accepted connection and when the
    /// client's side of it closed (end of stream or reset).
    final class SilentListener: Sendable {
        let channel: any Channel
        let accepted: Signal
        let peerClosed: Signal

        /// Fires `peerClosed` once the client closes its end.
        final class Watcher: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            let accepted: Signal
            let peerClosed: Signal
            init(accepted: Signal, peerClosed: Signal) {
                self.accepted = accepted
                self.peerClosed = peerClosed
            }
            func channelActive(context: ChannelHandlerContext) {
                self.accepted.fire()
                context.fireChannelActive()
            }
            func channelInactive(context: ChannelHandlerContext) {
                self.peerClosed.fire()
                context.fireChannelInactive()
            }
        }

        init() async throws {
            let accepted = Signal()
            let peerClosed = Signal()
            self.accepted = accepted
            self.peerClosed = peerClosed
            self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Watcher(accepted: accepted, peerClosed: peerClosed))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        var endpoint: Endpoint { Endpoint(host: "127.0.0.1", port: self.channel.localAddress!.port!) }
    }

    @Test(
        "close() while a connection is still being opened (the server's settings, or its TLS handshake, pending) closes that connection too: the server sees it close, long before the connect timeout",
        arguments: [false, true]
    )
    func closesConnectionStillOpening(tls: Bool) async throws {
        let listener = try await SilentListener()
        var configuration = RPCClient.Configuration()
        configuration.connectTimeout = .seconds(600)
        if tls {
            // The ClientHello goes out and is never answered.
            configuration.transportSecurity = .tls(trustRoots: try TestCA().trustRoots)
        }
        let client = RPCClient(target: .endpoints([listener.endpoint]), configuration: configuration)

        // A call makes the client connect; the server accepts and stays silent, so the call waits for the connection.
        async let call: Echo = client.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(600)))
        await listener.accepted.wait()

        await client.close()
        let outcome: Result<Echo, any Error>
        do { outcome = .success(try await call) } catch { outcome = .failure(error) }
        #expect(rpcError(of: outcome)?.code == .unavailable)
        // Before, the attempt lived on after close() until the server's settings or the connect timeout (10 min
        // here); wait(timeout:)'s 30 s only turns that into a failure instead of a hang.
        #expect(await listener.peerClosed.wait(timeout: .seconds(30)))
        #expect(await client.openCalls == 0)
        try await listener.channel.close()
    }

    @Test("A client let go without close() has its connection closed, and the oversight logged")
    func abandonedClientClosesItsConnection() async throws {
        let logs = LogCapture()
        let clientConfiguration = Self.logging(into: logs)
        try await withServerAndClient(router: Router.heldCalls(started: Signal(), gate: Signal())) { server, _ in
            try await Self.callThenLetGo(port: try await server.listeningAddress.port!, configuration: clientConfiguration)
            // Before, the connection stayed open for the life of the process: this waited in vain.
            await server.stats(until: { $0.connections == 0 })
            let line = await logs.first { $0.message.hasPrefix("An RPCClient was deinitialized without close()") }
            #expect(line?.level == .warning)
            #expect(line?.message == "An RPCClient was deinitialized without close(): its 1 connection is closed now; call close() (or run it as a Service) when done with a client")
        }
    }

    /// Makes one call on a client of its own, which connects, and returns without closing it.
    static func callThenLetGo(port: Int, configuration: RPCClient.Configuration) async throws {
        let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
        _ = try await client.unary(TestMethods.echo, Echo(text: "x"))
    }

    static let shutdownLine = "Client shutting down gracefully"

    /// A client configuration whose logs `logs` captures.
    static func logging(into logs: LogCapture) -> RPCClient.Configuration {
        var configuration = RPCClient.Configuration()
        configuration.logger = logs.logger(label: "client")
        return configuration
    }

    @Test("Graceful shutdown of a client run as a Service: a new call fails unavailable, the call already open finishes OK, then run() returns and the connection closes")
    func gracefulShutdownLetsOpenCallsFinish() async throws {
        let logs = LogCapture()
        let configuration = Self.logging(into: logs)
        let started = Signal()
        let gate = Signal()
        try await withServerAndClient(router: Router.heldCalls(started: started, gate: gate), clientConfiguration: configuration) { server, client in
            #expect(try await client.unary(TestMethods.echo, Echo(text: "first")).text == "first")
            let group = ServiceGroup(services: [client], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                async let held = client.unary(TestMethods.wait, Echo(text: "held"), options: CallOptions(timeout: .seconds(60)))
                await started.wait()
                await group.triggerGracefulShutdown()
                let line = await logs.first { $0.message.hasPrefix(Self.shutdownLine) }
                #expect(line?.message == "Client shutting down gracefully: new calls are refused; waiting for 1 open calls to end")

                let late = await #expect(throws: RPCError.self) {
                    try await client.unary(TestMethods.echo, Echo(text: "late"), options: CallOptions(timeout: .seconds(60)))
                }
                #expect(late?.code == .unavailable)
                #expect(late?.message == "The client is shutting down; the call was not sent.")
                #expect(server.stats.connections == 1)

                gate.fire()
                let reply = try await held
                #expect(reply.text == "held")
                try await tasks.waitForAll()  // run() returned: the client is closed.
            }
            await server.stats(until: { $0.connections == 0 })
            let closed = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "after")) }
            #expect(closed?.message == "The client is closed; the call was not sent.")
        }
    }

    @Test("shutdownGracefully() without a ServiceGroup: a new call fails unavailable, the call already open finishes OK, then it returns with the connection closed")
    func shutdownGracefullyDirectly() async throws {
        let logs = LogCapture()
        let configuration = Self.logging(into: logs)
        let started = Signal()
        let gate = Signal()
        try await withServerAndClient(router: Router.heldCalls(started: started, gate: gate), clientConfiguration: configuration) { server, client in
            async let held = client.unary(TestMethods.wait, Echo(text: "held"), options: CallOptions(timeout: .seconds(60)))
            await started.wait()
            async let shutDown: Void = client.shutdownGracefully()
            _ = await logs.first { $0.message.hasPrefix(Self.shutdownLine) }
            let late = await #expect(throws: RPCError.self) { try await client.unary(TestMethods.echo, Echo(text: "late")) }
            #expect(late?.message == "The client is shutting down; the call was not sent.")
            gate.fire()
            let reply = try await held
            #expect(reply.text == "held")
            await shutDown
            await server.stats(until: { $0.connections == 0 })
        }
    }

    @Test(
        "A client run as a Service and cancelled — before or during a graceful shutdown — closes at once: its open call fails unavailable",
        arguments: [false, true]
    )
    func cancelledClosesAtOnce(duringDrain: Bool) async throws {
        let logs = LogCapture()
        let configuration = Self.logging(into: logs)
        let started = Signal()
        let gate = Signal()
        try await withServerAndClient(router: Router.heldCalls(started: started, gate: gate), clientConfiguration: configuration) { server, client in
            let group = ServiceGroup(services: [client], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                async let held = client.unary(TestMethods.wait, Echo(text: "held"), options: CallOptions(timeout: .seconds(60)))
                await started.wait()
                if duringDrain {
                    await group.triggerGracefulShutdown()
                    _ = await logs.first { $0.message.hasPrefix(Self.shutdownLine) }
                }
                tasks.cancelAll()
                let outcome: Result<Echo, any Error>
                do { outcome = .success(try await held) } catch { outcome = .failure(error) }
                #expect(rpcError(of: outcome)?.code == .unavailable)
                gate.fire()  // The server's handler (which does not look at cancellation) returns.
                try? await tasks.waitForAll()
            }
            await server.stats(until: { $0.connections == 0 })
        }
    }

    @Test("With health checking, the client's own health watch does not hold a graceful shutdown: with no call open, run() returns")
    func healthWatchDoesNotHoldTheDrain() async throws {
        var configuration = RPCClient.Configuration()
        configuration.healthChecking = HealthChecking()
        var router = Router.heldCalls(started: Signal(), gate: Signal())
        router.addHealthService(HealthService())
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            let returned = Signal()
            let group = ServiceGroup(services: [client], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    defer { returned.fire() }
                    try await group.run()
                }
                #expect(try await client.unary(TestMethods.echo, Echo(text: "first")).text == "first")
                _ = await client.stats.wait { $0.healthUpdates >= 1 }  // The watch is open.
                await group.triggerGracefulShutdown()
                // A bound on "never": a watch only ends with its connection, which the drain would wait for.
                #expect(await returned.wait(timeout: .seconds(30)))
                try await tasks.waitForAll()
            }
            await server.stats(until: { $0.connections == 0 })
        }
    }

    @Test("In a ServiceGroup, a client added before a server outlives it: a handler still running when shutdown begins calls downstream through the client and succeeds; then the client closes")
    func clientOutlivesTheServerUsingIt() async throws {
        try await withServerAndClient(router: Router.heldCalls(started: Signal(), gate: Signal())) { downstream, _ in
            let port = try await downstream.listeningAddress.port!
            let outbound = RPCClient(host: "127.0.0.1", port: port)
            // The front server's handler waits for the gate, then asks downstream through `outbound`.
            let frontStarted = Signal()
            let frontGate = Signal()
            var router = Router()
            router.unary(TestMethods.echo) { request, _ in
                frontStarted.fire()
                await frontGate.wait()
                let reply = try await outbound.unary(TestMethods.echo, Echo(text: "downstream: \(request.text)"))
                return reply
            }
            let front = RPCServer(host: "127.0.0.1", port: 0, router: router)
            let group = ServiceGroup(services: [outbound, front], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let caller = RPCClient(host: "127.0.0.1", port: try await front.listeningAddress.port!)
                async let reply = caller.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(60)))
                await frontStarted.wait()
                await group.triggerGracefulShutdown()  // The front server drains first; the client waits for it.
                frontGate.fire()
                let text = try await reply.text
                #expect(text == "downstream: x")
                try await tasks.waitForAll()
                await caller.close()
            }
            let closed = await #expect(throws: RPCError.self) { try await outbound.unary(TestMethods.echo, Echo(text: "after")) }
            #expect(closed?.message == "The client is closed; the call was not sent.")
        }
    }
}
