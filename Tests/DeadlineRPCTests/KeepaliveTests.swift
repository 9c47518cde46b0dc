@testable import DeadlineRPC
import NIOCore
import Testing
import Wire

/// Keepalive (PROTOCOL.md §13.5). The server's (`RPCServer.Configuration.keepalive`): a client gone quiet while a
/// call is open is pinged; answered, the connection lives on; unanswered, it is closed and the handlers are
/// cancelled — these tests speak raw frames, so that the client answers pings exactly when the test says. The
/// client's (`RPCClient.Configuration.keepalive`): a quiet connection is pinged, calls open or not.
@Suite("Keepalive", .timeLimit(.minutes(2)))
struct KeepaliveTests {
    static func configuration() -> RPCServer.Configuration {
        var configuration = RPCServer.Configuration()
        // A generous answer time: the test's own task answers, and may be slow to run on a loaded machine.
        configuration.keepalive = .init(interval: .milliseconds(100), timeout: .seconds(5))
        return configuration
    }

    /// The next frame that is not the server's settings; nil (and an issue) for anything else.
    static func nextPing(_ raw: RawConnection, sourceLocation: SourceLocation = #_sourceLocation) async -> PingFrame? {
        let event = await raw.next()
        guard case .frame(.ping(let ping))? = event else {
            Issue.record("expected a keepalive PING, got \(String(describing: event))", sourceLocation: sourceLocation)
            return nil
        }
        return ping
    }

    @Test("A quiet client with a call open is pinged each interval; answered pings keep the connection; the first unanswered one closes it and cancels the handler")
    func pingsThenClosesWhenUnanswered() async throws {
        let started = Signal()
        let gate = Signal()
        let cancelled = Signal()
        let router = Router.heldCalls(started: started, gate: gate, cancelled: cancelled)
        try await withServerAndClient(router: router, serverConfiguration: Self.configuration()) { server, _ in
            let raw = try await ConnectionAgeTests.connectWithHeldCall(port: try await server.listeningAddress.port!)
            await started.wait()
            for _ in 0..<3 {
                guard let ping = await Self.nextPing(raw) else { return }
                #expect(!ping.ack)
                try await raw.send(.ping(PingFrame(payload: ping.payload, ack: true)))
            }
            #expect(!cancelled.isFired)
            // The fourth goes unanswered: the connection is closed without a GOAWAY (nobody would read it) and the
            // held call's handler is cancelled.
            guard await Self.nextPing(raw) != nil else { return }
            let end = await raw.awaitClose()
            #expect(end.closed)
            #expect(end.goAway == nil)
            #expect(end.callEnds.isEmpty)
            #expect(await cancelled.wait())
            gate.fire()  // The handler, cancelled, returns (its wait does not look at cancellation).
            await server.stats(until: { $0.connections == 0 })
            #expect(server.stats.keepaliveTimeouts == 1)
        }
    }

    @Test("A quiet connection with no call open is never pinged: the idle timeout ends it, with no PING before its GOAWAY")
    func noPingWithoutCalls() async throws {
        var configuration = Self.configuration()
        configuration.connectionLimits.idleTimeout = .seconds(1)  // Ten keepalive intervals.
        try await withServerAndClient(router: Router.heldCalls(started: Signal(), gate: Signal()), serverConfiguration: configuration) { server, _ in
            let raw = try await RawConnection.connect(port: try await server.listeningAddress.port!)
            let event = await raw.next()
            guard case .frame(.goAway(let goAway))? = event else {
                Issue.record("expected the idle timeout's GOAWAY first, got \(String(describing: event))")
                return
            }
            #expect(goAway.code == .timeout)
        }
    }

    @Test("On by default: a server waits two minutes of quiet, then 20 s for the answer; a client 20 s, then 10 s")
    func defaults() {
        #expect(RPCServer.Configuration().keepalive == Keepalive(interval: .seconds(120), timeout: .seconds(20)))
        #expect(RPCClient.Configuration().keepalive == Keepalive(interval: .seconds(20), timeout: .seconds(10)))
    }

    @Test("A client finds a server that vanished while its connection was idle (no call open): the unanswered ping closes the connection, and the next call opens a new one")
    func clientFindsVanishedServerWhileIdle() async throws {
        let logs = LogCapture()
        var configuration = RPCClient.Configuration()
        configuration.keepalive = .init(interval: .milliseconds(100), timeout: .seconds(1))
        configuration.logger = logs.logger(label: "client")
        let clientConfiguration = configuration
        var serverConfiguration = RPCServer.Configuration()
        // Pings 100 ms apart are within this server's policy, whenever the test gets to blackhole the path.
        serverConfiguration.connectionLimits.pingMinimumInterval = .milliseconds(10)
        try await withServerAndClient(router: Router.heldCalls(started: Signal(), gate: Signal()), serverConfiguration: serverConfiguration) { server, _ in
            let proxy = try await FaultProxy.start(targetPort: try await server.listeningAddress.port!)
            let client = RPCClient(host: "127.0.0.1", port: proxy.port, configuration: clientConfiguration)
            #expect(try await client.unary(TestMethods.echo, Echo(text: "warm")).text == "warm")
            proxy.setBlackholed(true)
            let line = await logs.first { $0.message.hasPrefix("Closing the connection: the server sent nothing") }
            #expect(line?.message == "Closing the connection: the server sent nothing for 0.1 seconds and did not answer a keepalive ping within 1.0 seconds")
            #expect(line?.metadata["drpc.open_calls"] == "0")
            _ = await client.stats.wait { $0.keepaliveTimeouts >= 1 }  // Counted just after the log line.
            #expect(client.stats.keepaliveTimeouts == 1)
            proxy.setBlackholed(false)
            #expect(try await client.unary(TestMethods.echo, Echo(text: "again")).text == "again")
            #expect(client.stats.connectionsOpened == 2)
            await client.close()
            await proxy.stop()
        }
    }

    @Test("A server that refuses the client's pings as too frequent (GOAWAY TOO_MANY_PINGS) doubles the client's keepalive interval for its next connections, once per refusal, until the server accepts it")
    func tooManyPingsDoublesTheInterval() async throws {
        let logs = LogCapture()
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.connectionLimits.pingMinimumInterval = .milliseconds(500)
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.keepalive = .init(interval: .milliseconds(100), timeout: .seconds(5))
        clientConfiguration.logger = logs.logger(label: "client")
        let router = Router.heldCalls(started: Signal(), gate: Signal())
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, client in
            // 100, 200 and 400 ms are each refused (a quiet connection's third early ping); 800 ms is not.
            for (refusal, (before, after)) in [("0.1", "0.2"), ("0.2", "0.4"), ("0.4", "0.8")].enumerated() {
                // The call opens a fresh connection, which is what is wanted of it. On a loaded machine its reply can
                // come after that connection's third early ping, which ends it: then the call fails `unavailable`.
                _ = try? await client.unary(TestMethods.echo, Echo(text: "\(refusal)"))
                let line = await logs.first { $0.message.contains("the interval goes from \(before) seconds to \(after) seconds") }
                #expect(line != nil)
                _ = await client.stats.wait { $0.goAwaysReceived >= refusal + 1 }  // Counted just after the log line.
                #expect(client.stats.goAwaysReceived == refusal + 1)
            }
            #expect(client.stats.connectionsOpened == 3)
        }
    }

    @Test("A server that vanishes while it drains (after its GOAWAY, a call still open) is found by the client's keepalive: the call fails unavailable, not at its deadline")
    func clientFindsServerVanishedMidDrain() async throws {
        let started = Signal()
        let gate = Signal()
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.connectionLimits.pingMinimumInterval = .milliseconds(10)  // The client pings every 200 ms.
        serverConfiguration.drainTimeout = .seconds(600)
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.keepalive = .init(interval: .milliseconds(200), timeout: .seconds(1))
        let configuration = clientConfiguration
        try await withServerAndClient(router: Router.heldCalls(started: started, gate: gate), serverConfiguration: serverConfiguration) { server, _ in
            let proxy = try await FaultProxy.start(targetPort: try await server.listeningAddress.port!)
            let client = RPCClient(host: "127.0.0.1", port: proxy.port, configuration: configuration)
            async let held = client.unary(TestMethods.wait, Echo(text: "held"), options: CallOptions(timeout: .seconds(600)))
            await started.wait()
            server.beginGracefulShutdown()
            _ = await client.stats.wait { $0.goAwaysReceived >= 1 }
            proxy.setBlackholed(true)
            let outcome: Result<Echo, any Error>
            do { outcome = .success(try await held) } catch { outcome = .failure(error) }
            let error = rpcError(of: outcome)
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("keepalive") == true)
            #expect(client.stats.keepaliveTimeouts == 1)
            gate.fire()
            await client.close()
            await proxy.stop()
        }
    }
}
