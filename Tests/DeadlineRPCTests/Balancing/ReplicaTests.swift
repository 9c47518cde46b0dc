@testable import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TestSupport

/// Several replicas behind one client, in this process: how calls spread, move and fail over.
@Suite("Replicas: balancing, draining, ejection, retries and hedges across endpoints", .heavyweight, .timeLimit(.minutes(5)))
struct ReplicaTests {
    /// A client configuration with `policy` and nothing timing-dependent switched on unless asked.
    static func configuration(_ policy: LoadBalancingPolicy, budgetAware: Bool = false) -> RPCClient.Configuration {
        var configuration = RPCClient.Configuration()
        configuration.loadBalancing = policy
        if !budgetAware { configuration.budgetAwarePicking = nil }
        return configuration
    }

    /// One call to warm the client up, then every replica connected.
    static func warmUp(_ client: RPCClient, replicas: Replicas) async throws {
        _ = try await client.unary(ReplicaMethods.echo, Echo(text: "warm"))
        await client.connectionsOpened(replicas.servers.count)
        replicas.resetCounts()
    }

    @Test("Round robin spreads calls evenly over three replicas: 100 each of 300")
    func roundRobinSpreadsEvenly() async throws {
        try await withReplicas(3, clientConfiguration: Self.configuration(.roundRobin)) { replicas, client in
            try await Self.warmUp(client, replicas: replicas)
            for index in 0..<300 {
                _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"))
            }
            #expect(replicas.counts == [100, 100, 100])
        }
    }

    /// Where one parked call waits: the replica its handler ran on, and the gate that lets it answer.
    final class Parking: Sendable {
        let parked = Signal()
        let gate = Signal()
        private let replica = Mutex<Int?>(nil)

        /// The handler for "park" requests: records its replica, reports, and waits for the gate.
        func park(on replica: Int) async {
            self.replica.withLock { $0 = replica }
            self.parked.fire()
            await self.gate.wait(timeout: .seconds(120))
        }

        /// The replica the parked call runs on (after ``parked``).
        var parkedReplica: Int { self.replica.withLock { $0 }! }
    }

    @Test("Least loaded prefers the idle replica: with a call in flight on one, 100 calls all go to the other")
    func leastLoadedPrefersIdle() async throws {
        let parking = Parking()
        try await withReplicas(2, clientConfiguration: Self.configuration(.leastLoaded)) { replica, request, _ in
            if request.text == "park" { await parking.park(on: replica) }
            return Echo(text: "\(replica)")
        } _: { replicas, client in
            try await Self.warmUp(client, replicas: replicas)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "park")) }
                await parking.parked.wait()
                let idle = 1 - parking.parkedReplica
                replicas.resetCounts()
                for index in 0..<100 {
                    #expect(try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)")).text == "\(idle)")
                }
                var expected = [0, 0]
                expected[idle] = 100
                #expect(replicas.counts == expected)
                parking.gate.fire()
                try await group.waitForAll()
            }
        }
    }

    @Test("A draining replica (GOAWAY) gets no new calls: 50 calls all go to the other, none fails, and its call in flight finishes")
    func drainingReplicaGetsNoNewCalls() async throws {
        let parking = Parking()
        try await withReplicas(2, clientConfiguration: Self.configuration(.leastLoaded)) { replica, request, _ in
            if request.text == "park" { await parking.park(on: replica) }
            return Echo(text: "\(replica)")
        } _: { replicas, client in
            try await Self.warmUp(client, replicas: replicas)
            try await withThrowingTaskGroup(of: Echo.self) { group in
                group.addTask { try await client.unary(ReplicaMethods.echo, Echo(text: "park")) }
                await parking.parked.wait()
                let draining = parking.parkedReplica
                replicas.servers[draining].beginGracefulShutdown()
                _ = await client.stats.wait { $0.goAwaysReceived >= 1 }
                replicas.resetCounts()
                for index in 0..<50 {
                    let answer = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"))
                    #expect(answer.text == "\(1 - draining)")
                }
                var expected = [0, 0]
                expected[1 - draining] = 50
                #expect(replicas.counts == expected)
                parking.gate.fire()
                let parked = try await group.next()
                #expect(parked?.text == "\(draining)")
            }
        }
    }

    @Test("An endpoint failing `unavailable` N times in a row is ejected: no more calls reach it")
    func outlierEjection() async throws {
        var configuration = Self.configuration(.roundRobin)
        var ejection = OutlierEjection()
        ejection.consecutiveFailures = 3
        ejection.baseEjectionTime = .seconds(600)
        configuration.outlierEjection = ejection
        try await withReplicas(2, clientConfiguration: configuration) { replica, request, _ in
            if replica == 0 && request.text != "warm" { throw RPCError(code: .unavailable, message: "replica 0 is broken") }
            return Echo(text: "\(replica)")
        } _: { replicas, client in
            try await Self.warmUp(client, replicas: replicas)
            var failures = 0
            for index in 0..<20 {
                do {
                    _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"))
                } catch let error as RPCError where error.code == .unavailable {
                    failures += 1
                }
            }
            #expect(failures == 3)
            #expect(replicas.counts == [3, 17])
            #expect(client.stats.endpointsEjected == 1)
        }
    }

    @Test("A retry goes to a different replica than the attempts before it")
    func retryGoesElsewhere() async throws {
        var configuration = Self.configuration(.leastLoaded)
        configuration.interceptors = [RetryInterceptor()]
        configuration.outlierEjection = nil  // Keep the broken replica in play: every call may be sent to it.
        let seenOnBroken = Mutex<[String]>([])
        try await withReplicas(3, clientConfiguration: configuration) { replica, request, _ in
            if replica == 0 && request.text != "warm" {
                seenOnBroken.withLock { $0.append(request.text) }
                throw RPCError(code: .unavailable, message: "replica 0 is broken")
            }
            return Echo(text: "\(replica)")
        } _: { replicas, client in
            try await Self.warmUp(client, replicas: replicas)
            for index in 0..<60 {
                let answer = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"))
                #expect(answer.text != "0")
            }
            let seen = seenOnBroken.withLock { $0 }
            // Each call reached the broken replica at most once: its retry never went back there.
            #expect(Set(seen).count == seen.count)
            #expect(replicas.counts[1] + replicas.counts[2] == 60)
        }
    }

    @Test("A hedge sends its second attempt to a different replica than its first")
    func hedgeGoesElsewhere() async throws {
        let parking = Parking()
        let entries = Mutex<[Int]>([])
        try await withReplicas(2, clientConfiguration: Self.configuration(.leastLoaded)) { replica, request, _ in
            if request.text == "park" { await parking.park(on: replica) }
            if request.text == "hedged" {
                let first = entries.withLock { $0.append(replica); return $0.count == 1 }
                // The first attempt waits to be cancelled (the hedge's loser); the second answers.
                if first { try await Task.sleep(for: .seconds(120)) }  // Until cancelled: nothing is ordered by it.
            }
            return Echo(text: "\(replica)")
        } _: { replicas, client in
            try await Self.warmUp(client, replicas: replicas)
            try await withThrowingTaskGroup(of: Void.self) { group in
                // One call in flight on one replica: the hedge's first attempt goes to the other (least loaded);
                // its second then finds both with one call in flight, and only its history sends it back across.
                group.addTask { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "park")) }
                await parking.parked.wait()
                let answer = try await CallGroup.hedge(after: .milliseconds(20)) {
                    try await client.unary(ReplicaMethods.echo, Echo(text: "hedged"))
                }
                // One attempt on each replica. (Which arrives first is up to the machine: the first to arrive waits
                // to be cancelled, so the answer comes from the other.)
                let order = entries.withLock { $0 }
                #expect(order.sorted() == [0, 1])
                #expect(answer.text == "\(order[1])")
                parking.gate.fire()
                try await group.waitForAll()
            }
        }
    }

    @Test("Budget-aware picking: calls go to the replica fast enough for their budget; when none is, they fail at once, unsent")
    func budgetAwarePicking() async throws {
        var configuration = Self.configuration(.roundRobin, budgetAware: true)
        var picking = BudgetAwarePicking()
        picking.minimumSamples = 4
        // Samples 500 ms apart nearly replace the estimate, so a replica turned slow is judged by its slow answers.
        picking.decayTime = .milliseconds(100)
        picking.staleAfter = .seconds(600)
        configuration.budgetAwarePicking = picking
        let slow = Mutex<Set<Int>>([0])
        try await withReplicas(2, clientConfiguration: configuration) { replica, request, _ in
            if slow.withLock({ $0.contains(replica) }) && request.text != "warm" {
                try await Task.sleep(for: .milliseconds(500))  // The slowness under test, not an ordering.
            }
            return Echo(text: "\(replica)")
        } _: { replicas, client in
            try await Self.warmUp(client, replicas: replicas)
            // Ten calls at once with a generous budget: five samples on each replica.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<10 {
                    group.addTask { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"), options: CallOptions(timeout: .seconds(60))) }
                }
                try await group.waitForAll()
            }
            replicas.resetCounts()
            for index in 0..<20 {
                let answer = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"), options: CallOptions(timeout: .milliseconds(250)))
                #expect(answer.text == "1")
            }
            #expect(replicas.counts == [0, 20])
            #expect(client.stats.shedForLatency == 0)

            // Now both are slow: samples at 500 ms on replica 1 too, then a 250 ms call is shed without a send.
            slow.withLock { $0 = [0, 1] }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<10 {
                    group.addTask { _ = try await client.unary(ReplicaMethods.echo, Echo(text: "\(index)"), options: CallOptions(timeout: .seconds(60))) }
                }
                try await group.waitForAll()
            }
            replicas.resetCounts()
            await #expect {
                try await client.unary(ReplicaMethods.echo, Echo(text: "shed"), options: CallOptions(timeout: .milliseconds(250)))
            } throws: { error in
                (error as? RPCError)?.code == .deadlineExceeded && (error as? RPCError)?.message.contains("every endpoint") == true
            }
            #expect(replicas.counts == [0, 0])
            #expect(client.stats.shedForLatency == 1)
        }
    }

    @Test("No endpoint reachable: a call fails `unavailable` at once, naming every endpoint")
    func noEndpointReachable() async throws {
        // Two ports that refuse connections: servers bound, then stopped.
        var ports: [Int] = []
        for _ in 0..<2 {
            let server = RPCServer(host: "127.0.0.1", port: 0, router: Router())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                ports.append(try await server.listeningAddress.port!)
                server.beginGracefulShutdown()
                try await group.waitForAll()
            }
        }
        let client = RPCClient(target: .endpoints(ports.map { Endpoint(host: "127.0.0.1", port: $0) }))
        await #expect {
            try await client.unary(ReplicaMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(30)))
        } throws: { error in
            guard let error = error as? RPCError, error.code == .unavailable else { return false }
            return ports.allSatisfy { error.message.contains("127.0.0.1:\($0)") }
        }
        await client.close()
    }

    @Test("No endpoint ready within the budget (servers that accept and stay silent): the call fails `deadlineExceeded`, it does not hang")
    func noEndpointReadyWithinBudget() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var channels: [any Channel] = []
        for _ in 0..<2 {
            channels.append(try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { _ in group.any().makeSucceededVoidFuture() }
                .bind(host: "127.0.0.1", port: 0).get())
        }
        let client = RPCClient(target: .endpoints(channels.map { Endpoint(host: "127.0.0.1", port: $0.localAddress!.port!) }))
        await #expect {
            try await client.unary(ReplicaMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .milliseconds(200)))
        } throws: { error in
            (error as? RPCError)?.code == .deadlineExceeded
        }
        await client.close()
        for channel in channels { try await channel.close() }
    }
}
