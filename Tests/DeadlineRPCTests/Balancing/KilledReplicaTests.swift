@testable import DeadlineRPC
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Replicas as real processes (`demo-services echo-server --name`), one killed with SIGKILL mid-run.
@Suite("A killed replica", .heavyweight, .timeLimit(.minutes(5)))
struct KilledReplicaTests {
    static let echo = Method<Echo, Echo>.unary("demo.Echo/Get", isIdempotent: true)

    /// One replica process on 127.0.0.1.
    final class Replica: Sendable {
        let process: Process
        let port: Int

        /// Starts replica `name` on `port` (0: a free one) and waits until it listens.
        init(name: String, port: Int) async throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let process = Process()
            process.executableURL = try ChildProcess.findExecutable("demo-services", root: root)
            process.arguments = ["echo-server", "--port", "\(port)", "--name", name]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.process = process
            let line = try await ChildProcess.readLine(output.fileHandleForReading)
            guard let listening = Int(line.replacingOccurrences(of: "listening on ", with: "")) else {
                process.terminate()
                throw RPCError(code: .internal, message: "replica \(name) printed '\(line)'")
            }
            self.port = listening
        }

        /// SIGKILL: no drain, no GOAWAY; the kernel resets its connections.
        func kill() async {
            Glibc.kill(self.process.processIdentifier, SIGKILL)
            await ChildProcess.waitForExit(self.process)
        }
    }

    @Test("Killing a replica costs 0 failed idempotent calls; it gets no call until it is back, then rejoins")
    func killedReplicaCostsNothing() async throws {
        var replicas: [Replica] = []
        defer { for replica in replicas where replica.process.isRunning { replica.process.terminate() } }
        for index in 0..<3 { replicas.append(try await Replica(name: "r\(index)", port: 0)) }
        var configuration = RPCClient.Configuration()
        configuration.loadBalancing = .roundRobin
        configuration.interceptors = [RetryInterceptor()]
        let client = RPCClient(target: .endpoints(replicas.map { Endpoint(host: "127.0.0.1", port: $0.port) }), configuration: configuration)

        func call(_ index: Int) async throws -> String {
            let answer = try await client.unary(Self.echo, Echo(text: "\(index)"), options: CallOptions(timeout: .seconds(10)))
            return String(answer.text.prefix { $0 != ":" })
        }
        _ = try await call(-1)
        _ = await client.stats.wait { $0.connectionsOpened >= 3 }
        var before: [String: Int] = [:]
        for index in 0..<60 { before[try await call(index), default: 0] += 1 }
        #expect(before == ["r0": 20, "r1": 20, "r2": 20])

        await replicas[1].kill()
        var after: [String: Int] = [:]
        for index in 0..<60 { after[try await call(index), default: 0] += 1 }  // Any failure throws: none may.
        #expect(after["r1"] == nil)
        #expect(after.values.reduce(0, +) == 60)

        // Back on the same port: the client reconnects with backoff, and the replica gets calls again.
        replicas[1] = try await Replica(name: "r1", port: replicas[1].port)
        _ = await client.stats.wait { $0.connectionsOpened >= 4 }
        var rejoined: [String: Int] = [:]
        for index in 0..<60 { rejoined[try await call(index), default: 0] += 1 }
        #expect(rejoined == ["r0": 20, "r1": 20, "r2": 20])
        await client.close()
    }
}
