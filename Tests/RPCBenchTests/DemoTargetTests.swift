import DemoTopology
import RPCBenchCore
import RPCBenchDemo
import Testing

@Suite("The demo topology's records as the bench's handler records", .timeLimit(.minutes(5)))
struct DemoTargetTests {
    private static func record(_ service: ServiceName, requestID: String, cancelled: Int64?, completed: Bool) -> HopRecord {
        var record = HopRecord(requestID: requestID, service: service, hopCount: 1, startedNanoseconds: 1_000, deadlineNanoseconds: nil)
        record.cancelledNanoseconds = cancelled
        record.endedNanoseconds = 5_000
        record.completed = completed
        return record
    }

    @Test("A cooperative handler noticed its cancellation when it stopped; the fraud service, which answered, never did")
    func noticed() throws {
        let warehouse = try #require(DemoTarget.handlerRecord(Self.record(.warehouse, requestID: "bench-42", cancelled: 2_000, completed: false)))
        #expect(warehouse == HandlerRecord(tag: 42, hop: 4, startedAt: 1_000, cancelledAt: 2_000, observedAt: 5_000, endedAt: 5_000, completed: false))
        let fraud = try #require(DemoTarget.handlerRecord(Self.record(.fraud, requestID: "bench-7", cancelled: 2_000, completed: true)))
        #expect(fraud == HandlerRecord(tag: 7, hop: 2, startedAt: 1_000, cancelledAt: 2_000, observedAt: 0, endedAt: 5_000, completed: true))
        let untouched = try #require(DemoTarget.handlerRecord(Self.record(.gateway, requestID: "bench-8", cancelled: nil, completed: true)))
        #expect(untouched.hop == 1 && untouched.cancelledAt == 0 && untouched.observedAt == 0)
    }

    @Test("Hops are depths: gateway 1; catalog, pricing, recommendations, fraud 2; inventory 3; warehouse 4")
    func depths() {
        #expect(DemoTarget.hops == 4)
        let hops = ServiceName.rpcServices.map { service in
            DemoTarget.handlerRecord(Self.record(service, requestID: "bench-1", cancelled: nil, completed: true))?.hop ?? 0
        }
        #expect(hops == [1, 2, 2, 3, 4, 2, 2])
    }

    @Test("Only finished records of tracked request ids become handler records")
    func untracked() {
        #expect(DemoTarget.handlerRecord(Self.record(.gateway, requestID: "req-1", cancelled: nil, completed: true)) == nil)
        var running = Self.record(.gateway, requestID: "bench-3", cancelled: nil, completed: true)
        running.endedNanoseconds = nil
        #expect(DemoTarget.handlerRecord(running) == nil)
        #expect(DemoCheckout.tag(requestID: DemoCheckout.requestID(tag: 99)) == 99)
    }

    @Test("A launched topology is checked first: the target must propagate, and every service's stats address is needed")
    func remoteChecks() async throws {
        var off = TopologySettings()
        off.propagation = .disabledToReproduceLeaks
        off.logLevel = .error
        try await InProcessTopology.with([off]) { endpoints in
            let wrongWay = await #expect(throws: DemoTargetError.self) {
                try await DemoBench.runRemote(BenchConfiguration(), topologies: endpoints, label: "demo=gateway")
            }
            #expect(wrongWay?.description.contains("has propagation off") == true)
            var partial = endpoints[0]
            partial.http[.fraud] = nil
            let missing = await #expect(throws: DemoTargetError.self) {
                try await DemoBench.runRemote(BenchConfiguration(), topologies: [partial], label: "demo=gateway")
            }
            #expect(missing?.description.contains("No stats endpoint for fraud") == true)
        }
    }
}
