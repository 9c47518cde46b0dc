@testable import DeadlineRPC
import Synchronization
import Testing
import TestSupport

/// A resolver whose answer the test sets: the plug-in point a registry-backed resolver (Consul, a config file)
/// would use. DNS itself is proven against a real dnsmasq in MultiHostTests.
final class SettableResolver: NameResolver {
    private let answer: Mutex<Result<[Endpoint], ResolutionError>>

    init(_ endpoints: [Endpoint]) {
        self.answer = Mutex(.success(endpoints))
    }

    func set(_ endpoints: [Endpoint]) { self.answer.withLock { $0 = .success(endpoints) } }
    func fail(_ reason: String) { self.answer.withLock { $0 = .failure(ResolutionError(host: "orders", reason: reason)) } }

    func resolve(host: String, port: Int) async throws -> [Endpoint] {
        try self.answer.withLock { $0 }.get()
    }
}

@Suite("Resolution: endpoints that leave drain, new ones join, failures keep the last good set", .heavyweight, .timeLimit(.minutes(5)))
struct ResolutionTests {
    @Test("An endpoint that leaves the set takes no new call, and its call in flight finishes")
    func leavingEndpointDrains() async throws {
        let parking = ReplicaTests.Parking()
        let resolver = SettableResolver([])
        var configuration = ReplicaTests.configuration(.roundRobin)
        configuration.resolver = resolver
        configuration.resolutionInterval = .milliseconds(20)
        let clientConfiguration = configuration
        try await withReplicas(2) { replica, request, _ in
            if request.text == "park" { await parking.park(on: replica) }
            return Echo(text: "\(replica)")
        } _: { replicas, _ in
            resolver.set(replicas.endpoints)
            let client = RPCClient(target: .dns("orders", port: 1), configuration: clientConfiguration)
            _ = try await client.unary(ReplicaMethods.echo, Echo(text: "warm"))
            await client.connectionsOpened(2)
            try await withThrowingTaskGroup(of: Echo.self) { group in
                group.addTask { try await client.unary(ReplicaMethods.echo, Echo(text: "park")) }
                await parking.parked.wait()
                let leaving = parking.parkedReplica
                resolver.set([replicas.endpoints[1 - leaving]])
                let seen = client.stats.resolutionsSucceeded
                _ = await client.stats.wait { $0.resolutionsSucceeded >= seen + 2 }
                replicas.resetCounts()
                for index in 0..<20 { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)")) }
                var expected = [0, 0]
                expected[1 - leaving] = 20
                #expect(replicas.counts == expected)
                parking.gate.fire()
                let parked = try await group.next()
                #expect(parked?.text == "\(leaving)")
            }

            // Resolution fails: counted, and the last good set keeps serving.
            resolver.fail("SERVFAIL")
            _ = await client.stats.wait { $0.resolutionsFailed >= 2 }
            for index in 0..<5 { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)")) }
            await client.close()
        }
    }

    @Test("A name that never resolved fails waiting calls `unavailable` with the resolver's reason")
    func neverResolved() async throws {
        let resolver = SettableResolver([])
        resolver.fail("no such name")
        var configuration = RPCClient.Configuration()
        configuration.resolver = resolver
        let client = RPCClient(target: .dns("orders", port: 7000), configuration: configuration)
        await #expect {
            try await client.unary(ReplicaMethods.echo, Echo(text: ""), options: CallOptions(timeout: .seconds(30)))
        } throws: { error in
            guard let error = error as? RPCError else { return false }
            return error.code == .unavailable && error.message.contains("Cannot resolve orders: no such name")
        }
        #expect(client.stats.resolutionsFailed >= 1)
        await client.close()
    }
}
