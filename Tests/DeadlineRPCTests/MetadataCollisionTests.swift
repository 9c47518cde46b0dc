import DeadlineRPC
import Instrumentation
import Synchronization
import Testing

/// Issue #14 point 2: no silent metadata overwrite. Two writers of one request metadata key — the caller and an
/// instrument, two instruments, an instrument or the caller and a propagated key — fail the call with
/// `invalidArgument` naming both, before anything is sent; retries and hedges still send one `traceparent` each.
@Suite("Metadata collisions between the caller, instruments and propagated keys", .timeLimit(.minutes(5)))
struct MetadataCollisionTests {
    static let traced = Method<Echo, Echo>.unary("test.Trace/Get", isIdempotent: true)
    static let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    /// A server that records every call's metadata and answers with it.
    private func recordingRouter(_ log: MetadataLog) -> Router {
        var router = Router()
        router.unary(Self.traced) { request, context in
            log.record(context.metadata)
            return request
        }
        return router
    }

    private func withTrace<T>(_ body: () async throws -> T) async rethrows -> T {
        var context = ServiceContext.topLevel
        context[TraceID.self] = Self.trace
        return try await ServiceContext.withValue(context) { try await body() }
    }

    @Test("An instrument writing a key the caller set in CallOptions.metadata fails the call, naming both; nothing is sent")
    func callerAndInstrument() async throws {
        let log = MetadataLog()
        var configuration = RPCClient.Configuration()
        configuration.instrument = TraceParentWriter()
        try await withServerAndClient(router: self.recordingRouter(log), clientConfiguration: configuration) { server, client in
            // guide:begin metadata-collision
            let error = await #expect(throws: RPCError.self) {
                try await self.withTrace {
                    try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10), metadata: ["traceparent": "00-mine-01"]))
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "Metadata key 'traceparent' is written by both the call's metadata (CallOptions.metadata or a client interceptor) and instrument DeadlineRPCTests.TraceParentWriter. Nothing was sent. Remove 'traceparent' from the call's metadata: instrument DeadlineRPCTests.TraceParentWriter writes it from ServiceContext.current.")
            let collision = try #require(error?.cause as? MetadataCollision)
            #expect(collision == MetadataCollision(key: "traceparent", writers: [
                "the call's metadata (CallOptions.metadata or a client interceptor)", "instrument DeadlineRPCTests.TraceParentWriter",
            ]))
            // guide:end metadata-collision
            #expect(server.stats.callsStarted == 0)

            // Without the caller's entry the same call goes out with the instrument's single value.
            _ = try await self.withTrace {
                try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10), metadata: ["tenant": "acme"]))
            }
            #expect(log.all == [["tenant": "acme", "traceparent": .string(Self.trace)]])
        }
    }

    @Test("Two instruments writing the same key (one MultiplexInstrument) fail the call, naming both instruments")
    func twoInstruments() async throws {
        let log = MetadataLog()
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.instrument = MultiplexInstrument([Sessions.Propagator(), Ledger.Propagator()])
        try await withServerAndClient(router: self.recordingRouter(log), clientConfiguration: clientConfiguration) { server, client in
            var context = ServiceContext.topLevel
            context[Sessions.UserID.self] = "session-7"
            context[Ledger.UserID.self] = "ledger-42"
            let error = await #expect(throws: RPCError.self) {
                try await ServiceContext.withValue(context) {
                    try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10)))
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "Metadata key 'user_id' is written by both instrument DeadlineRPCTests.Sessions.Propagator and instrument DeadlineRPCTests.Ledger.Propagator. Nothing was sent. Configure only one instrument that propagates 'user_id'.")
            #expect((error?.cause as? MetadataCollision)?.writers == ["instrument DeadlineRPCTests.Sessions.Propagator", "instrument DeadlineRPCTests.Ledger.Propagator"])
            #expect(server.stats.callsStarted == 0)
            #expect(log.all.isEmpty)

            // One of them alone is fine: one value goes out.
            var one = ServiceContext.topLevel
            one[Sessions.UserID.self] = "session-7"
            _ = try await ServiceContext.withValue(one) {
                try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10)))
            }
            #expect(log.all == [["user_id": "session-7"]])
        }
    }

    @Test("A propagated key and the caller writing the same key fail the call, naming both")
    func callerAndPropagatedKey() async throws {
        let log = MetadataLog()
        var configuration = RPCClient.Configuration()
        configuration.propagatedKeys = try PropagatedKeys([Accounts.UserID.self])
        try await withServerAndClient(router: self.recordingRouter(log), clientConfiguration: configuration) { server, client in
            let error = await #expect(throws: RPCError.self) {
                try await Accounts.UserID.withValue("ada") {
                    try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10), metadata: ["accounts.user_id": "eve"]))
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "Metadata key 'accounts.user_id' is written by both the call's metadata (CallOptions.metadata or a client interceptor) and propagated key DeadlineRPCTests.Accounts.UserID. Nothing was sent. Set the value in ServiceContext under DeadlineRPCTests.Accounts.UserID instead of in the call's metadata.")
            #expect(server.stats.callsStarted == 0)
            #expect(log.all.isEmpty)
        }
    }

    @Test("A propagated key wanting the instrument's key fails the call, naming both")
    func instrumentAndPropagatedKey() async throws {
        let log = MetadataLog()
        var configuration = RPCClient.Configuration()
        configuration.instrument = TraceParentWriter()
        configuration.propagatedKeys = try PropagatedKeys([Billing.Trace.self])
        try await withServerAndClient(router: self.recordingRouter(log), clientConfiguration: configuration) { server, client in
            let error = await #expect(throws: RPCError.self) {
                try await self.withTrace {
                    try await Billing.Trace.withValue("billing-trace") {
                        try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10)))
                    }
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "Metadata key 'traceparent' is written by both instrument DeadlineRPCTests.TraceParentWriter and propagated key DeadlineRPCTests.Billing.Trace. Nothing was sent. Give DeadlineRPCTests.Billing.Trace another wireName; 'traceparent' belongs to the instrument.")
            #expect(server.stats.callsStarted == 0)
        }
    }

    @Test("On the server, an instrument and a propagated key reading one key fail every call before the handler runs, naming both")
    func serverInstrumentAndPropagatedKey() async throws {
        let log = MetadataLog()
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.instrument = TraceParentWriter()
        serverConfiguration.propagatedKeys = try PropagatedKeys([Billing.Trace.self])
        try await withServerAndClient(router: self.recordingRouter(log), serverConfiguration: serverConfiguration) { _, client in
            // Refused whether or not the request carries the key: the configuration is wrong, not the request.
            for metadata: Metadata in [[:], ["traceparent": .string(Self.trace)]] {
                let error = await #expect(throws: RPCError.self) {
                    try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10), metadata: metadata))
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message == "Request metadata key 'traceparent' is read by both this server's instrument DeadlineRPCTests.TraceParentWriter and propagated key DeadlineRPCTests.Billing.Trace; the handler did not run. Give DeadlineRPCTests.Billing.Trace another wireName.")
            }
            #expect(log.all.isEmpty)
        }
    }

    @Test("BearerTokenCredentials and a caller-set authorization fail the call, naming both; nothing is sent")
    func credentialsAndCaller() async throws {
        let log = MetadataLog()
        var configuration = RPCClient.Configuration()
        configuration.interceptors = [BearerTokenCredentials(token: "s3cret")]
        try await withServerAndClient(router: self.recordingRouter(log), clientConfiguration: configuration) { server, client in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10), metadata: ["authorization": "Bearer other"]))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "Metadata key 'authorization' is written by both the call's metadata (CallOptions.metadata or an outer client interceptor) and BearerTokenCredentials. Nothing was sent. Remove 'authorization' from the call's metadata, or BearerTokenCredentials from this client's interceptors.")
            #expect(server.stats.callsStarted == 0)

            _ = try await client.unary(Self.traced, Echo(text: "x"), options: CallOptions(timeout: .seconds(10)))
            #expect(log.all == [["authorization": "Bearer s3cret"]])
        }
    }

    @Test("A retried attempt and a hedged attempt each send exactly one traceparent")
    func retryAndHedgeSendOneTraceParent() async throws {
        let log = MetadataLog()
        let attempts = Atomic<Int>(0)
        let firstHedgeArrived = Signal()
        let secondHedgeArrived = Signal()
        var router = Router()
        router.unary(Self.traced) { request, context in
            log.record(context.metadata)
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            switch request.text {
            case "retry" where attempt == 1:
                throw RPCError(code: .unavailable, message: "try again")
            case "hedge 1":
                firstHedgeArrived.fire()
                await secondHedgeArrived.wait()  // Slow until the hedge arrived, so both attempts reach the server.
            case "hedge 2":
                secondHedgeArrived.fire()
            default:
                break
            }
            return request
        }
        var configuration = RPCClient.Configuration()
        configuration.instrument = TraceParentWriter()
        configuration.propagatedKeys = try PropagatedKeys([Accounts.UserID.self])
        configuration.interceptors = [RetryInterceptor()]
        try await withServerAndClient(router: router, clientConfiguration: configuration) { _, client in
            let expected: Metadata = ["tenant": "acme", "traceparent": .string(Self.trace), "accounts.user_id": "ada"]
            let options = CallOptions(timeout: .seconds(10), metadata: ["tenant": "acme"])
            let reply = try await self.withTrace {
                try await Accounts.UserID.withValue("ada") {
                    try await client.unary(Self.traced, Echo(text: "retry"), options: options)
                }
            }
            #expect(reply.text == "retry")
            #expect(log.all == [expected, expected])

            attempts.store(0, ordering: .relaxed)
            let hedgeNumber = Atomic<Int>(0)
            _ = try await self.withTrace {
                try await Accounts.UserID.withValue("ada") {
                    try await CallGroup.hedge(after: .milliseconds(1)) {
                        let number = hedgeNumber.add(1, ordering: .relaxed).newValue
                        if number > 1 { await firstHedgeArrived.wait() }
                        return try await client.unary(Self.traced, Echo(text: "hedge \(number)"), options: options)
                    }
                }
            }
            #expect(log.all == [expected, expected, expected, expected])
        }
    }
}
