import DeadlineRPC
import Instrumentation
import Synchronization
import Testing

/// A trace id, propagated by ``HopTraceInstrument``.
private enum HopTraceKey: ServiceContextKey {
    typealias Value = String
}

/// A value no instrument propagates.
private enum LocalOnlyKey: ServiceContextKey {
    typealias Value = String
}

/// Carries ``HopTraceKey`` as `traceparent`, and nothing else.
private struct HopTraceInstrument: Instrument {
    func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract: Extractor, Extract.Carrier == Carrier {
        if let value = extractor.extract(key: "traceparent", from: carrier) { context[HopTraceKey.self] = value }
    }

    func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Inject.Carrier == Carrier {
        if let value = context[HopTraceKey.self] { injector.inject(value, forKey: "traceparent", into: &carrier) }
    }
}

/// Pins what `CallContext.serviceContext`'s documentation promises about a hop: the instrument's trace context
/// crosses, other `ServiceContext` values stay on the host that set them.
@Suite("What of ServiceContext crosses a hop", .timeLimit(.minutes(5)))
struct ServiceContextHopTests {
    static let first = Method<Echo, Echo>.unary("test.Hop/First")
    static let second = Method<Echo, Echo>.unary("test.Hop/Second")

    @Test("The instrument's trace context reaches the next service; a value no instrument carries does not")
    func onlyInstrumentedValuesCross() async throws {
        let seen = Mutex<(trace: String?, local: String?)?>(nil)
        var secondRouter = Router()
        secondRouter.unary(Self.second) { request, context in
            seen.withLock { $0 = (context.serviceContext[HopTraceKey.self], context.serviceContext[LocalOnlyKey.self]) }
            return request
        }
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.instrument = HopTraceInstrument()
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.instrument = HopTraceInstrument()
        let (server2Configuration, client2Configuration) = (serverConfiguration, clientConfiguration)
        try await withServerAndClient(
            router: secondRouter,
            serverConfiguration: server2Configuration,
            clientConfiguration: client2Configuration
        ) { _, downstream in
            var firstRouter = Router()
            firstRouter.unary(Self.first) { request, context in
                var values = context.serviceContext
                values[LocalOnlyKey.self] = "user-42"
                #expect(values[HopTraceKey.self] == "trace-1", "the first hop received the trace context")
                return try await ServiceContext.withValue(values) {
                    try await downstream.unary(Self.second, request)
                }
            }
            try await withServerAndClient(
                router: firstRouter,
                serverConfiguration: server2Configuration,
                clientConfiguration: client2Configuration
            ) { _, top in
                var values = ServiceContext.topLevel
                values[HopTraceKey.self] = "trace-1"
                _ = try await ServiceContext.withValue(values) {
                    try await top.unary(Self.first, Echo(text: ""), options: CallOptions(timeout: .seconds(30)))
                }
            }
        }
        let (trace, local) = try #require(seen.withLock { $0 })
        #expect(trace == "trace-1")
        #expect(local == nil, "a ServiceContext value no instrument propagates stays on the host that set it")
    }
}
