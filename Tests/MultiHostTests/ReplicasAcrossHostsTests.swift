@testable import DeadlineRPC
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Replicas of one service on one port in three hosts (network namespaces, one with its clock days ahead), behind
/// a DNS name served by the bed's dnsmasq whose records change while calls flow.
@Suite("Replicas across hosts, behind DNS", .testBed, .heavyweight, .serialized, .timeLimit(.minutes(5)))
struct ReplicasAcrossHostsTests {
    static let echo = Method<Echo, Echo>.unary("demo.Echo/Get", isIdempotent: true)

    struct Echo: Codable, Sendable {
        var text: String
    }

    /// `echo-server` replicas named r1, r2, … on port 7000 of each host, once each says it listens.
    static func startReplicas(in bed: TestBed) async throws -> [BedProcess] {
        let demo = try TestBed.executable("demo-services")
        var replicas: [BedProcess] = []
        for host in bed.hosts {
            let process = try await host.run(demo, ["echo-server", "--host", host.address, "--port", "7000", "--name", "r\(host.number)"])
            try await process.line(containing: "listening on")
            replicas.append(process)
        }
        return replicas
    }

    /// `count` calls, one after another, each with `timeout`; how many each replica answered. Any failed call throws.
    static func spread(_ client: RPCClient, _ count: Int, timeout: Duration) async throws -> [String: Int] {
        var answers: [String: Int] = [:]
        for index in 0..<count {
            let answer = try await client.unary(Self.echo, Echo(text: "\(index)"), options: CallOptions(timeout: timeout))
            answers[String(answer.text.prefix { $0 != ":" }), default: 0] += 1
        }
        return answers
    }

    @Test("Traffic follows DNS within one refresh; a failed resolution keeps the last good set; a killed replica costs 0 failed calls and rejoins when back")
    func trafficFollowsDNS() async throws {
        try await withTestBed(hosts: 3, clockOffsets: [.zero, .days(3), .zero]) { bed in
            let demo = try TestBed.executable("demo-services")
            let replicas = try await Self.startReplicas(in: bed)
            let (one, two, three) = (bed.host(1).address, bed.host(2).address, bed.host(3).address)
            try await bed.setRecords("echo.test", to: [one, two])

            var configuration = RPCClient.Configuration()
            configuration.resolver = bed.resolver
            configuration.resolutionInterval = .milliseconds(200)
            configuration.loadBalancing = .roundRobin
            configuration.budgetAwarePicking = nil
            configuration.interceptors = [RetryInterceptor()]
            let client = RPCClient(target: .dns("echo.test", port: 7000), configuration: configuration)

            func spread(_ count: Int) async throws -> [String: Int] { try await Self.spread(client, count, timeout: .seconds(10)) }

            _ = try await spread(1)
            _ = await client.stats.wait { $0.connectionsOpened >= 2 }
            #expect(try await spread(40) == ["r1": 20, "r2": 20])

            // The records change: within one refresh after dnsmasq serves the new set, r1 drains and r3 joins.
            try await bed.setRecords("echo.test", to: [two, three])
            let seen = client.stats.resolutionsSucceeded
            _ = await client.stats.wait { $0.resolutionsSucceeded >= seen + 2 && $0.connectionsOpened >= 3 }
            #expect(try await spread(40) == ["r2": 20, "r3": 20])

            // The name disappears (NXDOMAIN): resolutions fail, counted, and the last good set keeps serving.
            try await bed.setRecords("echo.test", to: [])
            _ = await client.stats.wait { $0.resolutionsFailed >= 1 }
            #expect(try await spread(40) == ["r2": 20, "r3": 20])

            // r3 is killed (SIGKILL: no drain): no call fails, none reaches it.
            replicas[2].signal(SIGKILL)
            _ = try await replicas[2].waitForExit(timeout: .seconds(10))
            let afterKill = try await spread(40)
            #expect(afterKill == ["r2": 40])

            // Back on its port: it rejoins once reconnected.
            let restarted = try await bed.host(3).run(demo, ["echo-server", "--host", three, "--port", "7000", "--name", "r3"])
            try await restarted.line(containing: "listening on")
            let opened = client.stats.connectionsOpened
            _ = await client.stats.wait { $0.connectionsOpened > opened }
            #expect(try await spread(40) == ["r2": 20, "r3": 20])

            await client.close()
            for process in replicas + [restarted] where process.isRunning { await process.stop() }
        }
    }

    @Test("A replica whose host is cut off (no FIN, no RST) is dropped by the client's keepalive: the call sent there is retried on the other replica within its deadline, none fails, and the replica rejoins once its host is back")
    func vanishedReplicaIsDropped() async throws {
        try await withTestBed(hosts: 2) { bed in
            let replicas = try await Self.startReplicas(in: bed)
            try await bed.setRecords("echo.test", to: bed.hosts.map(\.address))

            var configuration = RPCClient.Configuration()
            configuration.resolver = bed.resolver
            configuration.loadBalancing = .roundRobin
            configuration.budgetAwarePicking = nil
            configuration.interceptors = [RetryInterceptor()]
            // The shortest interval a default server allows (pings closer together are strikes, then TOO_MANY_PINGS).
            configuration.keepalive = Keepalive(interval: .seconds(5), timeout: .seconds(1))
            let client = RPCClient(target: .dns("echo.test", port: 7000), configuration: configuration)

            func spread(_ count: Int) async throws -> [String: Int] { try await Self.spread(client, count, timeout: .seconds(30)) }

            _ = try await spread(1)
            _ = await client.stats.wait { $0.connectionsOpened >= 2 }
            #expect(try await spread(20) == ["r1": 10, "r2": 10])

            // Host 2 drops off the network; its replica runs on and its connection stays open on both ends. The one
            // call round robin sends there hears nothing: the keepalive (at most two 5 s intervals, then 1 s) closes
            // the connection, the call fails `unavailable`, and the retry goes to r1 — within the call's 30 s deadline.
            try await bed.host(2).setPartitioned(true)
            #expect(try await spread(20) == ["r1": 20])
            #expect(client.stats.keepaliveTimeouts == 1)
            #expect(client.stats.connectionsOpened == 2)  // Reconnecting to r2 goes nowhere while it is cut off.

            try await bed.host(2).setPartitioned(false)
            _ = await client.stats.wait { $0.connectionsOpened >= 3 }
            #expect(try await spread(20) == ["r1": 10, "r2": 10])

            await client.close()
            for process in replicas where process.isRunning { await process.stop() }
        }
    }
}
