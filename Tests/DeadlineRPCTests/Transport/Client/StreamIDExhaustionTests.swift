@testable import DeadlineRPC
import Testing

/// A client connection uses odd stream ids up to 2^31 − 1 and never reuses one (PROTOCOL.md §4). At 200,000 calls a
/// second that is under two hours, so a long-lived client must move to a fresh connection without failing a call.
@Suite("Client connections that run out of stream ids", .serialized, .timeLimit(.minutes(5)))
struct StreamIDExhaustionTests {
    @Test("Out of stream ids, a connection is retired: the next call opens a fresh one, the call still open on the old one finishes, then the old one closes")
    func retiresAndReplaces() async throws {
        let started = Signal()
        let gate = Signal()
        try await withServerAndClient(router: Router.heldCalls(started: started, gate: gate)) { server, client in
            #expect(try await client.unary(TestMethods.echo, Echo(text: "first")).text == "first")
            #expect(client.stats.connectionsOpened == 1)

            // The last id a connection uses is 2^31 − 3: after it the next would be 2^31 − 1, which is the limit.
            await client.advanceStreamIDs(to: 0x7FFF_FFFD)
            async let held = client.unary(TestMethods.wait, Echo(text: "held"), options: CallOptions(timeout: .seconds(60)))
            await started.wait()

            // The old connection has no id left: this call waits for a fresh connection and succeeds on it.
            #expect(try await client.unary(TestMethods.echo, Echo(text: "fresh")).text == "fresh")
            #expect(client.stats.connectionsOpened == 2)
            await server.stats(until: { $0.connections == 2 })

            // The retired connection drains: its open call ends normally, and then it is closed.
            gate.fire()
            let reply = try await held
            #expect(reply.text == "held")
            await server.stats(until: { $0.connections == 1 && $0.callsFinished == 3 })
            for index in 0..<10 { #expect(try await client.unary(TestMethods.echo, Echo(text: "\(index)")).text == "\(index)") }
            #expect(client.stats.connectionsOpened == 2)
        }
    }

    @Test("With health checking, the retired connection's health watch is cancelled so that the connection can drain and close")
    func healthWatchLetsGo() async throws {
        var configuration = RPCClient.Configuration()
        configuration.healthChecking = HealthChecking()
        let started = Signal()
        let gate = Signal()
        let health = HealthService()
        var router = Router.heldCalls(started: started, gate: gate)
        router.addHealthService(health)
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            #expect(try await client.unary(TestMethods.echo, Echo(text: "first")).text == "first")
            _ = await client.stats.wait { $0.healthUpdates >= 1 }

            await client.advanceStreamIDs(to: 0x7FFF_FFFD)
            async let held = client.unary(TestMethods.wait, Echo(text: "held"), options: CallOptions(timeout: .seconds(60)))
            await started.wait()
            // The watch held a stream on the old connection; without its cancel that connection would never close.
            #expect(try await client.unary(TestMethods.echo, Echo(text: "fresh")).text == "fresh")
            _ = await client.stats.wait { $0.connectionsOpened == 2 && $0.healthUpdates >= 2 }
            gate.fire()
            let reply = try await held
            #expect(reply.text == "held")
            await server.stats(until: { $0.connections == 1 })
            #expect(try await client.unary(TestMethods.echo, Echo(text: "after")).text == "after")
        }
    }
}
