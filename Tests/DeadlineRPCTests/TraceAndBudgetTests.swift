import DeadlineRPC
import Instrumentation
import Synchronization
import Testing

/// A trace id carried in `ServiceContext`.
private enum TraceIDKey: ServiceContextKey {
    typealias Value = String
}

/// A minimal W3C-style instrument: the trace id travels as `traceparent`.
private struct TraceParentInstrument: Instrument {
    func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract: Extractor, Extract.Carrier == Carrier {
        if let value = extractor.extract(key: "traceparent", from: carrier) {
            context[TraceIDKey.self] = value
        }
    }

    func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Inject.Carrier == Carrier {
        if let value = context[TraceIDKey.self] {
            injector.inject(value, forKey: "traceparent", into: &carrier)
        }
    }
}

/// What one hop saw.
private struct HopReport: Codable, Sendable {
    var hop: Int
    var trace: String?
    var traceFromServiceContext: String?
    var traceparentMetadata: String?
    var originalMicros: Int64?
    var leftOnArrivalMicros: Int64?
    var usedUpstreamMicros: Int64?
}

private func micros(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
}

private struct HopReports: Codable, Sendable {
    var hops: [HopReport]
}

@Suite("Trace context and budget attribution across hops", .timeLimit(.minutes(5)))
struct TraceAndBudgetTests {
    fileprivate static let hop = Method<HopReports, HopReports>.unary("test.Chain/Hop")

    /// Starts `count` servers in a chain (each handler waits `work`, then calls the next) and runs `body` with the
    /// first one's port.
    private func withChain<T: Sendable>(
        count: Int,
        work: Duration,
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var servers: [RPCServer] = []
            var clients: [RPCClient] = []
            var nextPort: Int? = nil
            var clientConfiguration = RPCClient.Configuration()
            clientConfiguration.instrument = TraceParentInstrument()
            var serverConfiguration = RPCServer.Configuration()
            serverConfiguration.instrument = TraceParentInstrument()
            for _ in 0..<count {
                let downstream = nextPort.map { RPCClient(host: "127.0.0.1", port: $0, configuration: clientConfiguration) }
                if let downstream { clients.append(downstream) }
                var router = Router()
                // guide:begin budget-attribution
                router.unary(Self.hop) { request, context in
                    let budget = context.budget
                    let report = HopReport(
                        hop: context.hopCount,
                        trace: context.serviceContext[TraceIDKey.self],
                        traceFromServiceContext: ServiceContext.current?[TraceIDKey.self],
                        traceparentMetadata: context.metadata.first(forKey: "traceparent"),
                        originalMicros: budget.map { micros($0.originalBudget) },
                        leftOnArrivalMicros: budget.map { micros($0.remainingOnArrival) },
                        usedUpstreamMicros: budget.map { micros($0.consumedBeforeArrival) }
                    )
                    try await Task.sleep(for: work)  // Simulated service time: what the next hop must see consumed.
                    guard let downstream else { return HopReports(hops: [report]) }
                    let below = try await downstream.unary(Self.hop, request)
                    return HopReports(hops: [report] + below.hops)
                }
                // guide:end budget-attribution
                let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: serverConfiguration)
                servers.append(server)
                group.addTask { try await server.run() }
                nextPort = try await server.listeningAddress.port!
            }
            let result: Result<T, any Error>
            do { result = .success(try await body(nextPort!)) } catch { result = .failure(error) }
            for client in clients { await client.close() }
            for server in servers { server.beginGracefulShutdown() }
            try await group.waitForAll()
            return try result.get()
        }
    }

    @Test("traceparent is injected from ServiceContext.current and extracted at every hop (ServiceContext.current too)")
    func traceParentPropagates() async throws {
        try await withChain(count: 3, work: .zero) { port in
            var configuration = RPCClient.Configuration()
            configuration.instrument = TraceParentInstrument()
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
            // guide:begin trace-context
            var context = ServiceContext.topLevel
            context[TraceIDKey.self] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            let reports = try await ServiceContext.withValue(context) {
                try await client.unary(Self.hop, HopReports(hops: []), options: CallOptions(timeout: .seconds(10)))
            }
            // guide:end trace-context
            await client.close()
            #expect(reports.hops.map(\.hop) == [0, 1, 2])
            for report in reports.hops {
                #expect(report.trace == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                #expect(report.traceFromServiceContext == report.trace)
                #expect(report.traceparentMetadata == report.trace)
            }
        }
    }

    @Test("Without a trace context nothing is injected")
    func noTraceNoHeader() async throws {
        try await withChain(count: 2, work: .zero) { port in
            var configuration = RPCClient.Configuration()
            configuration.instrument = TraceParentInstrument()
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
            let reports = try await client.unary(Self.hop, HopReports(hops: []), options: CallOptions(timeout: .seconds(10)))
            await client.close()
            #expect(reports.hops.allSatisfy { $0.trace == nil && $0.traceparentMetadata == nil })
        }
    }

    @Test("Each hop sees the original budget and how much the hops above consumed")
    func budgetAttribution() async throws {
        let work = Duration.milliseconds(100)
        try await withChain(count: 3, work: work) { port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            let reports = try await client.unary(Self.hop, HopReports(hops: []), options: CallOptions(timeout: .seconds(20)))
            await client.close()
            let hops = reports.hops
            #expect(hops.map(\.hop) == [0, 1, 2])
            for report in hops {
                // Sent in whole microseconds: the original budget is the root's 20 s at every hop.
                #expect(report.originalMicros.map { (19_900_000...20_000_000).contains($0) } == true)
                #expect(report.usedUpstreamMicros! + report.leftOnArrivalMicros! == report.originalMicros!)
            }
            // Each hop spends 100 ms before calling the next, so each hop below saw at least that much more gone.
            #expect(hops[1].usedUpstreamMicros! >= hops[0].usedUpstreamMicros! + 100_000)
            #expect(hops[2].usedUpstreamMicros! >= hops[1].usedUpstreamMicros! + 100_000)
        }
    }
}
