import DeadlineRPC
import TestSupport
import Testing

/// A call chain across three hosts whose monotonic (and boot-time) clocks are days apart: client (root namespace)
/// → hop 1 → hop 2 → hop 3, each a `demo-services chain-hop` process in its own host. Budgets travel as time
/// remaining, so each hop's deadline is right on its own clock, whatever the offsets: a deadline that crossed
/// as an instant would be days in the past (nothing runs) or days in the future (nothing expires) for a host.
@Suite("A chain across hosts with clocks days apart", .testBed, .heavyweight, .serialized, .timeLimit(.minutes(5)))
struct ClockOffsetChainTests {
    /// Hop N's process, host N.
    struct Chain {
        var hops: [BedProcess]
        var client: RPCClient
    }

    /// Starts hop 3, 2, 1 (each pointing at the next host's address, all on port 7000) in hosts with `offsets` in
    /// days, runs `body` with a client for hop 1, then stops every hop and checks each exited 0.
    static func withChain(offsets: [Int], _ body: (Chain) async throws -> Void) async throws {
        let demo = try TestBed.executable("demo-services")
        try await withTestBed(hosts: 3, clockOffsets: offsets.map { .days($0) }) { bed in
            var hops: [BedProcess] = []
            for host in bed.hosts.reversed() {
                var arguments = ["chain-hop", "--host", host.address, "--port", "7000", "--print-handler-events"]
                if host.number < 3 { arguments += ["--next-host", bed.host(host.number + 1).address, "--next", "7000"] }
                let hop = try await host.run(demo, arguments)
                try await hop.line(containing: "listening on 7000")
                hops.insert(hop, at: 0)
            }
            let client = RPCClient(host: bed.host(1).address, port: 7000)
            do {
                try await body(Chain(hops: hops, client: client))
            } catch {
                await client.close()
                throw error
            }
            await client.close()
            for (index, hop) in hops.enumerated() {
                #expect(await hop.stop() == .exited(0), "hop \(index + 1): \(hop.standardError)")
            }
        }
    }

    @Test(
        "A budget shorter than the chain's work ends deadlineExceeded; every hop's handler ends for the deadline",
        arguments: [[0, 3, 10], [10, 3, 0]]
    )
    func deadlineAcrossClocks(offsets: [Int]) async throws {
        try await Self.withChain(offsets: offsets) { chain in
            // The last hop works until its call is cancelled: only the deadline ends this call.
            let error = await #expect(throws: RPCError.self) {
                try await chain.client.unary(BedMethods.hop, Echo(text: "go"), options: CallOptions(timeout: .seconds(2)))
            }
            #expect(error?.code == .deadlineExceeded)
            for (index, hop) in chain.hops.enumerated() {
                // Every hop started (so the budget was not "days in the past" anywhere)…
                try await hop.line(containing: "handler started")
                // …and every hop's handler ended for the deadline (not "cancelled" by an upstream that expired while
                // this hop thought it had days left).
                let returned = try await hop.line(containing: "handler returned")
                #expect(returned.hasPrefix("handler returned cause=deadline exceeded"), "hop \(index + 1) (offsets \(offsets)): \(returned)")
            }
            // The last hop returns only once its own call is cancelled: by its own deadline timer.
            #expect(try await chain.hops[2].line(containing: "handler returned") == "handler returned cause=deadline exceeded own=true")
        }
    }

    @Test("A caller that cancels mid-call gets every hop's handler cancelled, each by its own call's CANCEL")
    func cancelAcrossClocks() async throws {
        try await Self.withChain(offsets: [0, 3, 10]) { chain in
            let client = chain.client
            let call = Task {
                try await client.unary(BedMethods.hop, Echo(text: "go"), options: CallOptions(timeout: .seconds(60)))
            }
            try await chain.hops[2].line(containing: "handler started")  // The call reached the last hop.
            call.cancel()
            let result = await call.result
            #expect(throws: RPCError.self) { try result.get() }
            if case .failure(let error as RPCError) = result { #expect(error.code == .cancelled) }
            for (index, hop) in chain.hops.enumerated() {
                #expect(try await hop.line(containing: "handler returned") == "handler returned cause=cancelled own=true", "hop \(index + 1)")
            }
        }
    }
}
