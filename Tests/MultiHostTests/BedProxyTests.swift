import DeadlineRPC
import TestSupport
import Testing

/// The bed's userspace proxy (no `tc netem` on these kernels): delay each way, a blackholed path, killed
/// connections — between the root namespace and a host.
@Suite("Test bed proxy: delay, blackhole, kill", .testBed, .heavyweight, .serialized, .timeLimit(.minutes(5)))
struct BedProxyTests {
    @Test("Delay holds every byte each way; a blackhole drops them; a kill ends the in-flight call")
    func proxy() async throws {
        let demo = try TestBed.executable("demo-services")
        try await withTestBed(hosts: 1) { bed in
            let host = bed.host(1)
            let echo = try await host.run(demo, ["echo-server", "--host", host.address, "--port", "7000"])
            try await echo.line(containing: "listening on")
            let hop = try await host.run(demo, ["chain-hop", "--host", host.address, "--port", "7001", "--print-handler-events"])
            try await hop.line(containing: "listening on")

            // 300 ms each way: a reply takes at least 600 ms, so a 100 ms budget always runs out first.
            let slow = try await bed.proxy(to: Endpoint(host: host.address, port: 7000), delay: .milliseconds(300))
            #expect(slow.endpoint.host == bed.gateway)
            let client = RPCClient(host: slow.endpoint.host, port: slow.endpoint.port)
            #expect(try await client.unary(BedMethods.echo, Echo(text: "slow"), options: CallOptions(timeout: .seconds(20))) == Echo(text: "slow"))
            let late = await #expect(throws: RPCError.self) {
                try await client.unary(BedMethods.echo, Echo(text: "late"), options: CallOptions(timeout: .milliseconds(100)))
            }
            #expect(late?.code == .deadlineExceeded)

            // Blackholed: bytes vanish, sockets stay open, so only the budget ends the call.
            slow.setDelay(.zero)
            slow.setBlackholed(true)
            let lost = await #expect(throws: RPCError.self) {
                try await client.unary(BedMethods.echo, Echo(text: "lost"), options: CallOptions(timeout: .milliseconds(500)))
            }
            #expect(lost?.code == .deadlineExceeded)
            // The blackholed connection lost bytes mid-stream: only a new one is usable.
            #expect(slow.killConnections() == 1)
            await client.close()
            slow.setBlackholed(false)
            let fresh = RPCClient(host: slow.endpoint.host, port: slow.endpoint.port)
            #expect(try await fresh.unary(BedMethods.echo, Echo(text: "again"), options: CallOptions(timeout: .seconds(20))) == Echo(text: "again"))
            await fresh.close()

            // Killed mid-call: the caller's call fails at once, the hop's handler is cancelled.
            let direct = try await bed.proxy(to: Endpoint(host: host.address, port: 7001))
            let caller = RPCClient(host: direct.endpoint.host, port: direct.endpoint.port)
            let call = Task {
                try await caller.unary(BedMethods.hop, Echo(text: "go"), options: CallOptions(timeout: .seconds(60)))
            }
            try await hop.line(containing: "handler started")
            #expect(direct.connections == 1)
            #expect(direct.killConnections() == 1)
            let result = await call.result
            #expect(throws: RPCError.self) { try result.get() }
            if case .failure(let error as RPCError) = result { #expect(error.code == .unavailable) }
            let returned = try await hop.line(containing: "handler returned")
            #expect(returned.hasSuffix("own=true"), "the hop's own call was cancelled when its connection died: \(returned)")
            await caller.close()
        }
    }
}
