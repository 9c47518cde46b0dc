@testable import DeadlineRPC
import NIOCore
import Testing

/// `Check` and `Watch` over a real connection, through ``HealthClient`` and as raw bytes.
@Suite("Health service: Check and Watch", .timeLimit(.minutes(5)))
struct HealthServiceTests {
    static func router(_ health: HealthService) -> Router {
        var router = Router()
        router.addHealthService(health)
        return router
    }

    static let rawCheck = Method<ByteBuffer, ByteBuffer>.raw(HealthService.checkMethodName, kind: .unary)
    static let rawWatch = Method<ByteBuffer, ByteBuffer>.raw(HealthService.watchMethodName, kind: .serverStreaming)

    @Test("Check answers for the server as a whole, for each registered service, and notFound for a name with no status")
    func check() async throws {
        let health = HealthService()
        health.setStatus(.serving, forService: "orders.Orders")
        health.setStatus(.notServing, forService: "payments.Payments")
        try await withServerAndClient(router: Self.router(health)) { _, client async throws in
            let checker = HealthClient(client)
            #expect(try await checker.check() == .serving)
            #expect(try await checker.check(service: "orders.Orders") == .serving)
            #expect(try await checker.check(service: "payments.Payments") == .notServing)
            let unknown = await #expect(throws: RPCError.self) { try await checker.check(service: "nobody.Nobody") }
            #expect(unknown?.code == .notFound)
            #expect(unknown?.message == "No health status is registered for service 'nobody.Nobody'.")

            health.setStatus(.notServing)
            health.clearStatus(forService: "orders.Orders")
            #expect(try await checker.check() == .notServing)
            let cleared = await #expect(throws: RPCError.self) { try await checker.check(service: "orders.Orders") }
            #expect(cleared?.code == .notFound)
        }
    }

    @Test("On the wire, Check's request and response are grpc.health.v1's protobuf bytes")
    func checkBytes() async throws {
        let health = HealthService()
        health.setStatus(.notServing, forService: "a")
        try await withServerAndClient(router: Self.router(health)) { _, client in
            let whole = try await client.unary(Self.rawCheck, ByteBuffer())
            #expect(Array(whole.readableBytesView) == [0x08, 0x01])
            let service = try await client.unary(Self.rawCheck, ByteBuffer(bytes: [0x0a, 0x01, 0x61]))
            #expect(Array(service.readableBytesView) == [0x08, 0x02])
        }
    }

    @Test("Watch sends the current status at once, then each change and nothing else")
    func watch() async throws {
        let health = HealthService()
        health.setStatus(.serving, forService: "orders.Orders")
        try await withServerAndClient(router: Self.router(health)) { server, client in
            try await HealthClient(client).watch(service: "orders.Orders") { statuses async throws in
                var iterator = statuses.makeAsyncIterator()
                #expect(try await iterator.next() == .serving)
                health.setStatus(.notServing, forService: "orders.Orders")
                #expect(try await iterator.next() == .notServing)
                health.setStatus(.notServing, forService: "orders.Orders")  // Not a change.
                health.setStatus(.notServing, forService: "")  // Another service.
                health.setStatus(.unknown, forService: "orders.Orders")
                #expect(try await iterator.next() == .unknown)  // An empty message on the wire.
                health.setStatus(.serving, forService: "orders.Orders")
                #expect(try await iterator.next() == .serving)
            }
            // Leaving the body cancelled the watch: its handler returned, and the service forgot the watcher.
            await server.stats(until: { $0.handlersInFlight == 0 })
            #expect(health.watcherCount == 0)
        }
    }

    @Test("Watch of a name with no status sends SERVICE_UNKNOWN and stays open: the status once set, SERVICE_UNKNOWN once cleared")
    func watchUnknownService() async throws {
        let health = HealthService()
        try await withServerAndClient(router: Self.router(health)) { _, client in
            try await HealthClient(client).watch(service: "later.Later") { statuses async throws in
                var iterator = statuses.makeAsyncIterator()
                #expect(try await iterator.next() == .serviceUnknown)
                health.setStatus(.serving, forService: "later.Later")
                #expect(try await iterator.next() == .serving)
                health.clearStatus(forService: "later.Later")
                #expect(try await iterator.next() == .serviceUnknown)
            }
        }
    }

    @Test(
        "A malformed request ends the call invalidArgument with the decoder's reason; the connection serves on",
        arguments: [
            ([0x0a, 0x05, 0x61] as [UInt8], "field 1 declares 5 bytes but 1 remain (at byte 2)"),
            ([0x0a, 0x01, 0xff], "field 1 (service) is not valid UTF-8"),
            ([0x0f], "field 1 has wire type 7, which is not defined (at byte 0)"),
            ([0x33, 0x08, 0x01], "the group of field 6 is not closed before the message ends"),
        ]
    )
    func malformed(bytes: [UInt8], reason: String) async throws {
        let health = HealthService()
        try await withServerAndClient(router: Self.router(health)) { _, client async throws in
            let message = "The health check request is not a valid HealthCheckRequest: \(reason)."
            let check = await #expect(throws: RPCError.self) { try await client.unary(Self.rawCheck, ByteBuffer(bytes: bytes)) }
            #expect(check?.code == .invalidArgument)
            #expect(check?.message == message)
            let watch = await #expect(throws: RPCError.self) {
                try await client.serverStreaming(Self.rawWatch, ByteBuffer(bytes: bytes)) { responses in
                    for try await _ in responses {}
                }
            }
            #expect(watch?.code == .invalidArgument)
            #expect(watch?.message == message)
            #expect(health.watcherCount == 0)
            #expect(try await HealthClient(client).check() == .serving)
        }
    }

    @Test("A server without a health service answers unimplemented")
    func notRegistered() async throws {
        try await withServerAndClient(router: Router()) { _, client in
            let error = await #expect(throws: RPCError.self) { try await HealthClient(client).check() }
            #expect(error?.code == .unimplemented)
        }
    }
}
