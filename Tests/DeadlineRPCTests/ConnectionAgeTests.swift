@testable import DeadlineRPC
import Foundation
import NIOCore
import Testing
import TestSupport
import Wire

/// `maxConnectionAge`: a server sends an old connection `GOAWAY(NO_ERROR)`, lets its calls finish within
/// `maxConnectionAgeGrace`, and its clients move to new connections without a failed call.
@Suite("Connections past their maximum age", .timeLimit(.minutes(5)))
struct ConnectionAgeTests {
    /// Three seconds (2.7 at the earliest, with the jitter). The raw-frame tests send their call in the very write
    /// that carries the preface, so the server reads it as soon as the connection is active; the age must only not
    /// beat that first read on a loaded machine. The tests await the GOAWAY; they time nothing.
    static let age = Duration.seconds(3)

    /// The server's configuration in these tests: the suite's age, with `grace` and `drainTimeout`.
    static func configuration(grace: Duration = .seconds(60), drainTimeout: Duration = .seconds(30)) -> RPCServer.Configuration {
        var configuration = RPCServer.Configuration()
        configuration.maxConnectionAge = Self.age
        configuration.maxConnectionAgeGrace = grace
        configuration.drainTimeout = drainTimeout
        return configuration
    }

    static func request(_ text: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(Echo(text: text)))
    }

    /// Connects and sends the preface, the settings and a `wait` call on stream 1 in one write.
    static func connectWithHeldCall(port: Int) async throws -> RawConnection {
        let raw = try await RawConnection.connect(port: port, handshake: false)
        var buffer = ByteBuffer()
        FrameEncoder.writePreface(into: &buffer)
        FrameEncoder.write(.settings(Settings()), into: &buffer)
        FrameEncoder.write(.callStart(CallStart(streamID: 1, method: TestMethods.wait.name)), into: &buffer)
        FrameEncoder.write(.message(.whole(streamID: 1, try Self.request("held"), endStream: true)), into: &buffer)
        try await raw.send(buffer)
        return raw
    }

    /// The held call on stream 1 was ended `UNAVAILABLE` with a message saying `cause`, and the connection closed.
    static func expectHeldCallEnded(
        _ end: (goAway: GoAway?, callEnds: [CallEnd], closed: Bool),
        saying cause: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(end.callEnds.map(\.streamID) == [1], sourceLocation: sourceLocation)
        #expect(end.callEnds.first?.status == .unavailable, sourceLocation: sourceLocation)
        #expect(end.callEnds.first?.message.contains(cause) == true, sourceLocation: sourceLocation)
        #expect(end.closed, sourceLocation: sourceLocation)
    }

    @Test("At its age a connection is sent GOAWAY(NO_ERROR) naming the age; its open call finishes OK, a later CALL_START is refused unprocessed, then the connection closes")
    func goAwayThenDrain() async throws {
        let started = Signal()
        let gate = Signal()
        try await withServerAndClient(router: Router.heldCalls(started: started, gate: gate), serverConfiguration: Self.configuration()) { server, _ in
            let raw = try await Self.connectWithHeldCall(port: try await server.listeningAddress.port!)
            await started.wait()
            guard case .frame(.goAway(let goAway))? = await raw.next() else {
                Issue.record("expected the server's GOAWAY at the connection's age")
                return
            }
            #expect(goAway.code == .noError)
            #expect(goAway.lastStreamID == 1)
            #expect(goAway.reason.contains("maximum age"))

            // Above the GOAWAY's last stream id: never processed (PROTOCOL.md §14.1), safe to send elsewhere.
            try await raw.send(
                .callStart(CallStart(streamID: 3, method: TestMethods.echo.name)),
                .message(.whole(streamID: 3, try Self.request("late"), endStream: true))
            )
            let refused = await raw.awaitCallEnd(3)
            #expect(refused?.status == .unavailable)
            #expect(server.stats.callsStarted == 1)

            gate.fire()
            let held = await raw.awaitCallEnd(1)
            #expect(held?.status == .ok)
            let end = await raw.awaitClose()
            #expect(end.closed)
        }
    }

    @Test("A call still open when the grace period ends is ended UNAVAILABLE with the reason, its handler cancelled, and the connection closed")
    func graceEnds() async throws {
        let started = Signal()
        let gate = Signal()
        let cancelled = Signal()
        let router = Router.heldCalls(started: started, gate: gate, cancelled: cancelled)
        try await withServerAndClient(router: router, serverConfiguration: Self.configuration(grace: .milliseconds(100))) { server, _ in
            let raw = try await Self.connectWithHeldCall(port: try await server.listeningAddress.port!)
            await started.wait()
            let end = await raw.awaitClose()
            #expect(end.goAway?.code == .noError)
            Self.expectHeldCallEnded(end, saying: "maximum age")
            await cancelled.wait()
            gate.fire()
        }
    }

    @Test("A server shut down while a connection drains for its age keeps its own drain timeout: the open call ends UNAVAILABLE as shut down, long before the age's grace")
    func shutdownDuringAgeDrain() async throws {
        let started = Signal()
        let gate = Signal()
        let cancelled = Signal()
        let router = Router.heldCalls(started: started, gate: gate, cancelled: cancelled)
        let configuration = Self.configuration(grace: .seconds(60), drainTimeout: .milliseconds(100))
        try await withServerAndClient(router: router, serverConfiguration: configuration) { server, _ in
            let raw = try await Self.connectWithHeldCall(port: try await server.listeningAddress.port!)
            await started.wait()
            guard case .frame(.goAway(let goAway))? = await raw.next() else {
                Issue.record("expected the server's GOAWAY at the connection's age")
                return
            }
            #expect(goAway.reason.contains("maximum age"))
            server.beginGracefulShutdown()
            // The age's grace is a minute: the suite's 30 s wait fails unless the drain timeout ended the call.
            let end = await raw.awaitClose()
            #expect(end.goAway == nil)  // No second GOAWAY.
            Self.expectHeldCallEnded(end, saying: "shut down")
            await cancelled.wait()
            gate.fire()
        }
    }

    @Test("An RPCClient moves to a new connection at the old one's age: a call open across the GOAWAY and every later call succeed")
    func clientMovesOn() async throws {
        let started = Signal()
        let gate = Signal()
        try await withServerAndClient(router: Router.heldCalls(started: started, gate: gate), serverConfiguration: Self.configuration()) { _, client in
            #expect(try await client.unary(TestMethods.echo, Echo(text: "first")).text == "first")
            async let held = client.unary(TestMethods.wait, Echo(text: "held"), options: CallOptions(timeout: .seconds(60)))
            await started.wait()
            _ = await client.stats.wait { $0.goAwaysReceived >= 1 }
            #expect(try await client.unary(TestMethods.echo, Echo(text: "after")).text == "after")
            #expect(client.stats.connectionsOpened >= 2)
            gate.fire()
            let reply = try await held
            #expect(reply.text == "held")
        }
    }

    @Test("Sixteen callers calling without pause across the GOAWAY: no call fails (calls the server never processed are sent again on the new connection)")
    func noCallFailsUnderLoad() async throws {
        let router = Router.heldCalls(started: Signal(), gate: Signal())
        try await withServerAndClient(router: router, serverConfiguration: Self.configuration()) { _, client in
            let failures = try await withThrowingTaskGroup(of: Int.self) { group in
                for caller in 0..<16 {
                    group.addTask {
                        var failures = 0
                        var afterGoAway = 0
                        // Until 20 calls of this caller went out after the first GOAWAY was received.
                        while afterGoAway < 20 {
                            if client.stats.goAwaysReceived > 0 { afterGoAway += 1 }
                            do {
                                let answer = try await client.unary(TestMethods.echo, Echo(text: "\(caller)"))
                                if answer.text != "\(caller)" { failures += 1 }
                            } catch {
                                failures += 1
                                Issue.record("caller \(caller): \(error)")
                            }
                        }
                        return failures
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(failures == 0)
            #expect(client.stats.goAwaysReceived >= 1)
            #expect(client.stats.connectionsOpened >= 2)
        }
    }

    @Test("With health checking, the client cancels the old connection's health watch at its GOAWAY, so it closes once its calls are done, long before the grace period")
    func healthWatchLetsGo() async throws {
        let started = Signal()
        let gate = Signal()
        var router = Router.heldCalls(started: started, gate: gate)
        router.addHealthService(HealthService())
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.healthChecking = HealthChecking()
        try await withServerAndClient(router: router, serverConfiguration: Self.configuration(), clientConfiguration: clientConfiguration) { server, client in
            let first = try await client.unary(TestMethods.echo, Echo(text: "first"))
            #expect(first.text == "first")
            _ = await client.stats.wait { $0.goAwaysReceived >= 1 }
            // The grace period is a minute; the server's count falls to zero within the suite's wait only if the
            // watch let the old connection go.
            await server.stats(until: { $0.connections == 0 })
            let after = try await client.unary(TestMethods.echo, Echo(text: "after"))
            #expect(after.text == "after")
            _ = await client.stats.wait { $0.connectionsOpened >= 2 && $0.healthUpdates >= 2 }
        }
    }

    @Test("Behind a TCP load balancer, a replica added to its pool gets calls once the old connection reaches its age; with no age set, never", arguments: [true, false])
    func reachesAddedReplica(aged: Bool) async throws {
        // Two replicas answering their own names; the client knows only the balancer's address.
        var configuration = RPCServer.Configuration()
        configuration.maxConnectionAge = aged ? Self.age : nil
        let names = ["a", "b"]
        try await withReplicas(2, serverConfiguration: configuration, handler: { replica, _, _ in Echo(text: names[replica]) }) { replicas, _ in
            let balancer = try await BedProxy.start(host: "127.0.0.1", targets: [replicas.endpoints[0]])
            let client = RPCClient(host: balancer.endpoint.host, port: balancer.endpoint.port)
            #expect(try await client.unary(ReplicaMethods.echo, Echo(text: "")).text == "a")

            // Replica b joins the pool: the balancer's next connection goes to it.
            balancer.setTargets(replicas.endpoints)
            if aged {
                _ = await client.stats.wait { $0.goAwaysReceived >= 1 }
                #expect(try await client.unary(ReplicaMethods.echo, Echo(text: "")).text == "b")
                #expect(client.stats.connectionsOpened == 2)
            } else {
                // The one connection goes on to a, whatever the pool: nothing ever moves it.
                for _ in 0..<20 { #expect(try await client.unary(ReplicaMethods.echo, Echo(text: "")).text == "a") }
                #expect(client.stats.connectionsOpened == 1)
                #expect(client.stats.goAwaysReceived == 0)
            }
            await client.close()
            await balancer.stop()
        }
    }

    @Test("The age is spread by at most ±10 %")
    func jitter() {
        for _ in 0..<1_000 {
            let jittered = ServerConnectionHandler.jittered(.seconds(10))
            #expect(jittered >= .seconds(9) && jittered <= .seconds(11))
        }
        #expect(ServerConnectionHandler.jittered(.zero) == .zero)
        #expect(ServerConnectionHandler.jittered(.seconds(-5)) == .zero)
        // The largest age saturates instead of overflowing.
        for _ in 0..<1_000 {
            let huge = ServerConnectionHandler.jittered(.seconds(Int64.max))
            #expect(huge >= .nanoseconds(Int64.max / 10 * 9) && huge <= .nanoseconds(Int64.max))
        }
        #expect(ServerConnectionHandler.jittered(.nanoseconds(5)) == .nanoseconds(5))
    }
}
