import DeadlineRPC
import Foundation
import TestSupport
import Testing

/// What a `demo-services chain-hop` process reports (`chain.Hop/Stats`).
private struct HopStats: Codable, Sendable {
    var started: Int
    var running: Int
    var returnedByCause: [String: Int]
    var ownCallCancelled: Int
}

/// The four-hop cascade with every server in its own process: the cancel and the deadline must cross process
/// boundaries, each hop enforcing the deadline on its own clock.
@Suite("Cascade across four processes", .serialized, .timeLimit(.minutes(5)), .heavyweight)
struct CascadeProcessTests {
    static let call = Method<Echo, Echo>.unary("chain.Hop/Call")
    fileprivate static let stats = Method<Echo, HopStats>.unary("chain.Hop/Stats")

    /// Starts hops 3, 2, 1, 0 (each pointing at the one below), runs `body` with a client per hop (index 0 = top),
    /// then SIGTERMs every process and checks each exits with status 0.
    private static func withChainProcesses(
        outboundTimeoutMs: [Int: Int] = [:],
        _ body: ([RPCClient]) async throws -> Void
    ) async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binary = try ChildProcess.findExecutable("demo-services", root: root)
        var processes: [Process] = []
        defer { for process in processes where process.isRunning { process.interrupt(); process.terminate() } }
        var ports: [Int] = []
        for hop in (0..<4).reversed() {
            let process = Process()
            process.executableURL = binary
            var arguments = ["chain-hop", "--port", "0"]
            if let next = ports.first { arguments += ["--next", "\(next)"] }
            if let timeout = outboundTimeoutMs[hop] { arguments += ["--outbound-timeout-ms", "\(timeout)"] }
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            processes.append(process)
            let line = try await ChildProcess.readLine(output.fileHandleForReading)
            ports.insert(try #require(Int(line.replacingOccurrences(of: "listening on ", with: ""))), at: 0)
        }
        let clients = ports.map { RPCClient(host: "127.0.0.1", port: $0) }
        do {
            try await body(clients)
        } catch {
            for client in clients { await client.close() }
            throw error
        }
        for client in clients { await client.close() }
        for process in processes { process.terminate() }  // SIGTERM: each drains and exits.
        for process in processes {
            await ChildProcess.waitForExit(process)
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0)
        }
    }

    private static func stats(_ client: RPCClient) async throws -> HopStats {
        try await client.unary(Self.stats, Echo(text: ""), options: CallOptions(timeout: .seconds(5)))
    }

    /// Polls a hop's stats until `condition` holds (the hops are other processes: there is no signal to await).
    private static func eventuallyStats(_ client: RPCClient, _ condition: (HopStats) -> Bool) async throws -> HopStats {
        let deadline = ContinuousClock.now + .seconds(30)
        var last = try await Self.stats(client)
        while !condition(last) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
            last = try await Self.stats(client)
        }
        return last
    }

    @Test("Cancelling the top caller stops every hop's handler in every process, each seeing cause 'cancelled'")
    func cancelAcrossProcesses() async throws {
        try await Self.withChainProcesses { hops in
            let call = Task { try await hops[0].unary(Self.call, Echo(text: "go"), options: CallOptions(timeout: .seconds(60))) }
            _ = try await Self.eventuallyStats(hops[3]) { $0.started == 1 }  // The request reached the last hop.
            call.cancel()
            let result = await call.result
            guard case .failure(let error as RPCError) = result else {
                Issue.record("expected RPCError, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
            for (index, hop) in hops.enumerated() {
                let stats = try await Self.eventuallyStats(hop) { $0.running == 0 && $0.started == 1 }
                #expect(stats.started == 1, "hop \(index)")
                #expect(stats.running == 0, "hop \(index) still running")
                #expect(stats.returnedByCause == ["cancelled": 1], "hop \(index): \(stats.returnedByCause)")
                // The cause is the call's own: each hop's cancel arrived as a CANCEL frame carrying 'cancelled'.
                #expect(stats.ownCallCancelled == 1, "hop \(index)")
            }
        }
    }

    @Test("A budget that runs out at hop 1 ends hops 2 and 3 with deadlineExceeded; nothing keeps running")
    func deadlineHalfwayAcrossProcesses() async throws {
        try await Self.withChainProcesses(outboundTimeoutMs: [1: 300]) { hops in
            let started = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                try await hops[0].unary(Self.call, Echo(text: "go"), options: CallOptions(timeout: .seconds(60)))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(ContinuousClock.now - started < .seconds(20), "ended by hop 1's 300 ms budget, not the top's 60 s")
            for index in [2, 3] {
                let stats = try await Self.eventuallyStats(hops[index]) { $0.running == 0 && $0.started == 1 }
                #expect(stats.running == 0, "hop \(index) still running")
                #expect(stats.returnedByCause == ["deadline exceeded": 1], "hop \(index): \(stats.returnedByCause)")
            }
            // The last hop only returns once its own call is cancelled, so its cause is the call's own. (Hop 2's
            // outbound call can fail at the same instant its own call expires: either cause is the deadline.)
            #expect(try await Self.stats(hops[3]).ownCallCancelled == 1)
            // Hops 0 and 1 were not cancelled: their outbound call failed with the deadline's typed cause (hop 1's
            // on its own clock, hop 0's from the DEADLINE_EXCEEDED that came back over the wire) and they returned it.
            for index in [0, 1] {
                let stats = try await Self.eventuallyStats(hops[index]) { $0.running == 0 }
                #expect(stats.running == 0)
                #expect(stats.ownCallCancelled == 0, "hop \(index) was not cancelled")
                #expect(stats.returnedByCause == ["deadline exceeded": 1], "hop \(index): \(stats.returnedByCause)")
            }
        }
    }
}
