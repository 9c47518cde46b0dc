import DeadlineRPC
import Foundation
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test bed itself: hosts that reach each other, servers on one port in several hosts, the system resolver
/// inside a host finding the bed's names, clocks days apart, and cleanup whatever the test does.
@Suite("Test bed: hosts, clocks, cleanup", .testBed, .heavyweight, .serialized, .timeLimit(.minutes(5)))
struct TestBedTests {
    @Test("Servers on the same port in two hosts each answer a client in the root namespace; host 2 reaches host 1")
    func reachability() async throws {
        let demo = try TestBed.executable("demo-services")
        try await withTestBed(hosts: 2) { bed in
            for host in bed.hosts {
                let server = try await host.run(demo, ["echo-server", "--host", host.address, "--port", "7000"])
                #expect(try await server.line(containing: "listening on") == "listening on 7000")
            }
            for host in bed.hosts {
                let client = RPCClient(host: host.address, port: 7000)
                let reply = try await client.unary(BedMethods.echo, Echo(text: "to \(host.number)"), options: CallOptions(timeout: .seconds(10)))
                await client.close()
                #expect(reply == Echo(text: "to \(host.number)"))
            }
            // A TCP connection from inside host 2 to host 1's server, across the bridge.
            let bash = try #require(["/bin/bash", "/usr/bin/bash"].first { FileManager.default.isExecutableFile(atPath: $0) })
            let probe = try await bed.host(2).run(
                URL(fileURLWithPath: bash),
                ["-c", "exec 3<>/dev/tcp/\(bed.host(1).address)/7000 && echo connected"]
            )
            #expect(try await probe.line(containing: "connected") == "connected")
            #expect(try await probe.waitForExit() == .exited(0))
        }
    }

    @Test("Inside a host, the system resolver asks the bed's dnsmasq (/etc/netns/HOST/resolv.conf)")
    func systemResolverInsideAHost() async throws {
        try await withTestBed(hosts: 2) { bed in
            try await bed.setRecords("orders.test", to: bed.hosts.map(\.address))
            let getent = try await bed.host(1).run(URL(fileURLWithPath: "/usr/bin/getent"), ["ahostsv4", "orders.test"])
            #expect(try await getent.waitForExit() == .exited(0))
            let addresses = Set(getent.lines.compactMap { $0.split(separator: " ").first.map(String.init) })
            #expect(addresses == Set(bed.hosts.map(\.address)))
        }
    }

    @Test("A process in a host with a +3 day offset reads CLOCK_MONOTONIC and the boot-time clock 3 days ahead")
    func clockOffset() async throws {
        let perl = URL(fileURLWithPath: "/usr/bin/perl")
        let script = "use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC); printf(\"monotonic %.6f\\n\", clock_gettime(CLOCK_MONOTONIC));"
        try await withTestBed(hosts: 2, clockOffsets: [.zero, .days(3)]) { bed in
            for (host, offset) in [(bed.host(1), 0.0), (bed.host(2), 3.0 * 86_400)] {
                let monotonicBefore = BedClock.monotonic
                let bootBefore = BedClock.boottime
                let reader = try await host.run(perl, ["-e", script])
                let line = try await reader.line(containing: "monotonic")
                let uptime = try await host.run(URL(fileURLWithPath: "/bin/cat"), ["/proc/uptime"])
                let uptimeLine = try await uptime.line(containing: ".")
                let monotonicAfter = BedClock.monotonic
                let bootAfter = BedClock.boottime
                // Read between the test's two readings: within them, shifted by exactly the offset.
                let seen = try #require(Double(line.dropFirst("monotonic ".count)))
                #expect(seen >= monotonicBefore + offset && seen <= monotonicAfter + offset, "host \(host.number): \(seen) vs [\(monotonicBefore), \(monotonicAfter)] + \(offset)")
                // /proc/uptime has two decimals.
                let up = try #require(Double(uptimeLine.split(separator: " ")[0]))
                #expect(up >= bootBefore + offset - 0.01 && up <= bootAfter + offset + 0.01, "host \(host.number): uptime \(up) vs [\(bootBefore), \(bootAfter)] + \(offset)")
            }
        }
    }

    @Test("A body that throws: every process, namespace, link, /etc/netns folder and file of the bed is gone")
    func cleanupWhenTheBodyThrows() async throws {
        struct Boom: Error {}
        let seen = Mutex<(tag: String, pids: [Int32])>(("", []))
        await #expect(throws: Boom.self) {
            try await withTestBed(hosts: 2) { bed in
                let sleeper = try await bed.host(1).run(URL(fileURLWithPath: "/bin/sleep"), ["600"])
                seen.withLock { $0 = (bed.tag, [sleeper.pid]) }
                // Namespaces h1, h2, dns; the bridge; veths v1, v2, vd.
                #expect(await TestBed.namesInUse(startingWith: bed.tag).count == 3 + 1 + 3)
                throw Boom()
            }
        }
        let (tag, pids) = seen.withLock { $0 }
        #expect(!tag.isEmpty)
        #expect(await TestBed.namesInUse(startingWith: tag) == [])
        let etc = (try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []
        #expect(etc.filter { $0.hasPrefix(tag) } == [])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/\(tag)"))
        for pid in pids { #expect(kill(pid, 0) == -1 && errno == ESRCH, "process \(pid) is gone") }
    }

    @Test("Leftovers of a run whose process is gone are removed; a live process's bed is left alone")
    func leftoversSwept() async throws {
        // A pid that no longer runs: a finished child's.
        let finished = try await Self.run("/bin/true", [])
        let dead = "drb\(String(finished, radix: 36))-z"
        let live = "drb\(String(getpid(), radix: 36))-zz"
        let ip = try #require(["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) })
        for name in [dead, live] {
            try await Self.run(ip, ["netns", "add", "\(name)h1"])
            try await Self.run(ip, ["link", "add", "\(name)br", "type", "bridge"])
        }
        try FileManager.default.createDirectory(atPath: "/etc/netns/\(dead)h1", withIntermediateDirectories: true)
        let removed = await TestBed.removeLeftovers()
        #expect(removed.filter { $0.hasPrefix(dead) } == ["\(dead)br", "\(dead)h1"])
        #expect(await TestBed.namesInUse(startingWith: dead) == [])
        #expect(!FileManager.default.fileExists(atPath: "/etc/netns/\(dead)h1"))
        #expect(await TestBed.namesInUse(startingWith: live).sorted() == ["\(live)br", "\(live)h1"])
        try await Self.run(ip, ["netns", "delete", "\(live)h1"])
        try await Self.run(ip, ["link", "delete", "\(live)br"])
    }

    /// Runs a command off the cooperative pool, expecting it to exit 0; returns its pid.
    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        let (status, pid) = await withCheckedContinuation { (continuation: CheckedContinuation<(Int32, Int32), Never>) in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                do {
                    try process.run()
                    process.waitUntilExit()
                    continuation.resume(returning: (process.terminationStatus, process.processIdentifier))
                } catch {
                    continuation.resume(returning: (-1, 0))
                }
            }
        }
        #expect(status == 0, "\(executable) \(arguments.joined(separator: " "))")
        return pid
    }
}
