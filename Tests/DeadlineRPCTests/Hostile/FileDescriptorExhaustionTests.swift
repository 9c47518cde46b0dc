import DeadlineRPC
import Foundation
import Testing

#if os(Linux)
extension HostileTests {
    /// HOSTILE.md D24, last clause: "accept never wedges when file descriptors run out". The server runs in its own
    /// process with `ulimit -n 64` (this process's limit is never touched: other suites run in it), and the test holds
    /// more connections open than that process can accept. The server must neither crash nor spin on the failing
    /// `accept` (NIO's `AcceptBackoffHandler` pauses accepting for a second after `EMFILE`), and once the connections
    /// are gone it must accept a new one and serve a call.
    @Suite("D24 accept under file-descriptor exhaustion", .timeLimit(.minutes(5)))
    struct FileDescriptorExhaustionTests {
        static let echo = Method<Echo, Echo>.unary("demo.Echo/Get")
        /// The child's descriptor limit.
        static let limit = 64
        /// Connections the test opens: more than the child can hold.
        static let connections = 120

        @Test("With its descriptors used up the server neither crashes nor spins, and accepts again once they free")
        func acceptSurvivesExhaustion() async throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            let binary = try ChildProcess.findExecutable("demo-services", root: root)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(Self.limit) && exec \"$0\" echo-server --port 0", binary.path]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice  // NIO logs each failed accept
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            let line = try await ChildProcess.readLine(output.fileHandleForReading)
            let port = try #require(Int(line.replacingOccurrences(of: "listening on ", with: "")))
            let child = ChildProbe(pid: process.processIdentifier)
            let descriptorsAtStart = child.openFileDescriptors
            #expect(child.descriptorLimit == Self.limit)

            // Every connection completes the handshake, so the server has no timeout that would free its descriptor
            // (the idle timeout is 5 minutes); the ones it cannot accept wait in the listen backlog.
            var held: [RawConnection] = []
            for _ in 0..<Self.connections { held.append(try await RawConnection.connect(port: port)) }
            let full = await eventually(timeout: .seconds(30)) { child.openFileDescriptors >= Self.limit }
            #expect(full, "the child holds \(child.openFileDescriptors) descriptors, limit \(Self.limit)")
            let accepted = child.openFileDescriptors - descriptorsAtStart

            // Exhausted: a new call cannot be served now...
            let client = RPCClient(host: "127.0.0.1", port: port)
            await #expect(throws: RPCError.self) {
                try await client.unary(Self.echo, Echo(text: "while full"), options: CallOptions(timeout: .milliseconds(500)))
            }
            // ...and the process neither crashed nor spins on accept. CPU over a fixed window is the measure, so this
            // one wait is a sleep: a spinning accept loop burns ~100% of a core, the backoff ~0%.
            let cpuBefore = child.cpuSeconds
            try await Task.sleep(for: .seconds(2))
            let cpuShare = (child.cpuSeconds - cpuBefore) / 2
            #expect(process.isRunning)
            #expect(cpuShare < 0.05, "the exhausted server used \(cpuShare * 100)% of a core")

            // The connections close; a call on a new connection must succeed.
            let freed = ContinuousClock.now
            for connection in held { await connection.close() }
            held = []
            let reply = try await client.unary(Self.echo, Echo(text: "after"), options: CallOptions(timeout: .seconds(30)))
            let recovery = ContinuousClock.now - freed
            #expect(reply.text == "after")
            #expect(recovery < .seconds(10), "accepting resumed \(recovery) after the descriptors were freed")
            await client.close()

            HostileFigures(
                caseID: "D24 fd exhaustion",
                outcome: "no crash, no spin (\(String(format: "%.1f", cpuShare * 100))% CPU while full); a new call succeeds once descriptors free",
                boundary: "ulimit -n \(Self.limit): \(accepted) connections accepted, \(Self.connections - accepted) left in the backlog",
                detectionMs: recovery.milliseconds,
                memoryGrowthKiB: 0,
                wellBehavedP99Ms: 0,
                wellBehavedCalls: 0,
                wellBehavedErrors: 0
            ).record()
            process.terminate()
            await ChildProcess.waitForExit(process)
            #expect(process.terminationReason == .exit)
        }
    }
}

/// Reads another process's descriptors, limit and CPU time from `/proc`.
private struct ChildProbe: Sendable {
    let pid: Int32

    var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(self.pid)/fd").count) ?? 0
    }

    /// The soft "Max open files" limit.
    var descriptorLimit: Int? {
        guard let limits = try? String(contentsOfFile: "/proc/\(self.pid)/limits", encoding: .utf8) else { return nil }
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }
        return line.flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first }.flatMap { Int($0) }
    }

    /// User plus system CPU time, in seconds.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(self.pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
#endif
