@testable import DeadlineRPC
import Testing
import TestSupport

/// The client watching its endpoints' health services and picking only those that serve.
@Suite("Client-side health checking", .heavyweight, .timeLimit(.minutes(5)))
struct HealthCheckingTests {
    static func configuration() -> RPCClient.Configuration {
        var configuration = RPCClient.Configuration()
        configuration.loadBalancing = .roundRobin
        configuration.budgetAwarePicking = nil
        configuration.healthChecking = HealthChecking()
        return configuration
    }

    @Test("NOT_SERVING takes a replica out of the pick at once, SERVING brings it back; graceful shutdown moves calls with none failed")
    func notServingIsNotPicked() async throws {
        let health = [HealthService(), HealthService()]
        try await withReplicas(2, clientConfiguration: Self.configuration(), health: health) { replicas, client in
            _ = try await client.unary(ReplicaMethods.echo, Echo(text: "warm"))
            // Both connections open and both first statuses (SERVING) read.
            _ = await client.stats.wait { $0.connectionsOpened >= 2 && $0.healthUpdates >= 2 }
            replicas.resetCounts()

            health[0].setStatus(.notServing, forService: "")
            _ = await client.stats.wait { $0.healthUpdates >= 3 }
            for index in 0..<50 { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)")) }
            #expect(replicas.counts == [0, 50])

            health[0].setStatus(.serving, forService: "")
            _ = await client.stats.wait { $0.healthUpdates >= 4 }
            replicas.resetCounts()
            for index in 0..<50 { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)")) }
            #expect(replicas.counts == [25, 25])

            // Graceful shutdown: NOT_SERVING first, then GOAWAY; no call fails, none reaches the draining one.
            replicas.servers[1].beginGracefulShutdown()
            _ = await client.stats.wait { $0.healthUpdates >= 5 }
            replicas.resetCounts()
            for index in 0..<50 { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)")) }
            #expect(replicas.counts == [50, 0])
        }
    }

    @Test("A replica not serving when the client connects gets no call until it serves; a server without a health service is judged by its connection")
    func startsNotServing() async throws {
        let health = [HealthService(), HealthService()]
        health[1].setStatus(.notServing, forService: "")
        try await withReplicas(2, clientConfiguration: Self.configuration(), health: health) { replicas, client in
            for index in 0..<20 {
                let answer = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"))
                #expect(answer.text == "0")
            }
            #expect(replicas.counts == [20, 0])
        }
        try await withReplicas(2, clientConfiguration: Self.configuration()) { replicas, client in
            _ = try await client.unary(ReplicaMethods.echo, Echo(text: "warm"))
            _ = await client.stats.wait { $0.connectionsOpened >= 2 && $0.healthUpdates >= 2 }
            replicas.resetCounts()
            for index in 0..<20 { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)")) }
            #expect(replicas.counts == [10, 10])
        }
    }
}
