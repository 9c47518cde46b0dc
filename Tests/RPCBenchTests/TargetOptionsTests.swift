import ArgumentParser
import DeadlineRPC
import DemoTopology
import Foundation
import RPCBenchCore
import Testing

@testable import rpcbench

/// `rpcbench run`'s target forms (DeadlineRPC's target syntax beside `demo`) and the replica-chaos flags.
@Suite("rpcbench --target forms and --replicas flags", .timeLimit(.minutes(5)))
struct TargetOptionsTests {
    private static func configuration(_ arguments: [String]) throws -> BenchConfiguration {
        try RPCBench.Run.parse(arguments).benchConfiguration
    }

    /// The message ArgumentParser would print for `arguments`, or nil when they parse.
    private static func rejection(_ arguments: [String]) -> String? {
        do {
            _ = try RPCBench.Run.parse(arguments)
            return nil
        } catch {
            return RPCBench.Run.message(for: error)
        }
    }

    @Test("No flags: the embedded 3-hop chain, no retry, least-loaded, no replicas — the default run is unchanged")
    func defaults() throws {
        let run = try RPCBench.Run.parse([])
        #expect(run.replicas == nil)
        let c = run.benchConfiguration
        #expect(c.target == .embedded(hops: 3))
        #expect(!c.retry)
        #expect(c.loadBalancing == .leastLoaded)
        #expect(c.clientConfiguration.interceptors.isEmpty)
    }

    @Test("One host:port stays a single remote server (IPv6 in brackets too); no retry unless asked")
    func singleEndpoint() throws {
        #expect(try Self.configuration(["--target", "127.0.0.1:50051"]).target == .remote(host: "127.0.0.1", port: 50_051))
        #expect(try Self.configuration(["--target", "[::1]:7000"]).target == .remote(host: "::1", port: 7_000))
        #expect(try Self.configuration(["--target", "bench.local:7000"]).retry == false)
        #expect(try Self.configuration(["--target", "bench.local:7000", "--retry"]).retry == true)
    }

    @Test("A list or a DNS name is a set of replicas behind the balancer, retried by default")
    func multiEndpoint() throws {
        let list = try Self.configuration(["--target", "127.0.0.1:7001,127.0.0.1:7002, 127.0.0.1:7003"])
        let endpoints = [7_001, 7_002, 7_003].map { Endpoint(host: "127.0.0.1", port: $0) }
        #expect(list.target == .replicas(.endpoints(endpoints)))
        #expect(list.retry)
        #expect(list.loadBalancing == .leastLoaded)
        #expect(list.clientConfiguration.interceptors.count == 1)
        #expect(list.clientConfiguration.interceptors.first is RetryInterceptor)

        let dns = try Self.configuration(["--target", "dns:///bench.default.svc:7000", "--balancing", "round-robin", "--no-retry"])
        #expect(dns.target == .replicas(.dns("bench.default.svc", port: 7_000)))
        #expect(dns.loadBalancing == .roundRobin)
        #expect(!dns.retry)
        #expect(dns.clientConfiguration.loadBalancing == .roundRobin)
        #expect(dns.clientConfiguration.interceptors.isEmpty)
        #expect(try Self.configuration(["--target", "dns:bench:1", "--balancing", "pick-first"]).loadBalancing == .pickFirst)
    }

    @Test("demo and demo=HOST:PORT keep working")
    func demo() throws {
        let inProcess = try RPCBench.Run.parse(["--target", "demo"])
        #expect(inProcess.isDemo && inProcess.remoteDemo == nil && !inProcess.isMultiEndpoint)
        let remote = try RPCBench.Run.parse(["--target", "demo=127.0.0.1:40123"])
        #expect(remote.isDemo)
        #expect(remote.remoteDemo?.first?.rpc[.gateway] == ServiceAddress(host: "127.0.0.1", port: 40_123))
        #expect(remote.benchConfiguration.retry == false)
    }

    @Test("Bad targets and flag combinations are refused with the reason")
    func rejections() {
        #expect(Self.rejection(["--target", "nonsense"])?.contains("'nonsense' has no port (HOST:PORT)") == true)
        #expect(Self.rejection(["--target", "127.0.0.1:7001,"])?.contains("has no port") == true)
        #expect(Self.rejection(["--target", "::1:7000"])?.contains("an IPv6 address goes in brackets") == true)
        #expect(Self.rejection(["--target", "127.0.0.1:0"])?.contains("127.0.0.1:0 has port 0") == true)
        #expect(Self.rejection(["--target", "h:99999"])?.contains("'99999' is not a port") == true)
        #expect(Self.rejection(["--target", "dns://10.0.0.1/bench:7000"])?.contains("a DNS server in the target") == true)
        #expect(Self.rejection(["--target", "demo=nohost"])?.contains("needs the gateway's RPC address") == true)
        #expect(Self.rejection(["--balancing", "random"]) != nil)
        #expect(Self.rejection(["--replicas", "1"]) == "--replicas must be 2...16")
        #expect(Self.rejection(["--replicas", "17"]) == "--replicas must be 2...16")
        #expect(Self.rejection(["--replicas", "3", "--target", "127.0.0.1:7000"]) == "--replicas starts replicas of its own; it does not go with --target")
        #expect(Self.rejection(["--kill-every", "1s"]) == "--kill-every and --down-for go with --replicas")
        #expect(Self.rejection(["--down-for", "1s"]) == "--kill-every and --down-for go with --replicas")
    }

    @Test("--replicas: its flags, defaults and planned kills; victims retry unless --no-retry")
    func replicas() throws {
        let executable = URL(fileURLWithPath: "/bin/rpcbench")
        let defaults = try RPCBench.Run.parse(["--replicas", "3"]).replicaConfiguration(executable: executable)
        #expect(defaults.replicas == 3)
        #expect(defaults.killEvery == .seconds(3) && defaults.downFor == .seconds(1))
        #expect(defaults.serveExecutable == executable)
        #expect(defaults.bench.retry && defaults.bench.loadBalancing == .leastLoaded)
        #expect(defaults.bench.duration == .seconds(6))
        #expect(defaults.plannedKills == 1)  // At 3 s; 6 s is the phase's end.

        let c = try RPCBench.Run.parse([
            "--replicas", "4", "--kill-every", "2s", "--down-for", "300ms", "--duration", "7", "--rate", "500",
            "--balancing", "round-robin", "--no-retry",
        ]).replicaConfiguration(executable: executable)
        #expect(c.replicas == 4)
        #expect(c.killEvery == .seconds(2) && c.downFor == .milliseconds(300))
        #expect(c.plannedKills == 3)  // At 2, 4 and 6 s.
        #expect(c.bench.load == .open(rate: 500, maxInFlight: 1_000))
        #expect(c.bench.loadBalancing == .roundRobin && !c.bench.retry)

        var none = c
        none.killEvery = .zero
        #expect(none.plannedKills == 0)
        none.killEvery = .seconds(1)
        none.bench.duration = .milliseconds(1_500)
        #expect(none.plannedKills == 1)
    }
}
