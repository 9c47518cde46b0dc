@testable import DeadlineRPC
import Foundation
import NIOCore
import Testing

/// The reflection service lists exactly the methods a server serves, describes each, and answers NOT_FOUND for
/// a method it does not serve.
@Suite("Reflection service")
struct ReflectionServiceTests {
    @Test("ListMethods lists exactly the registered methods (also those registered after the service), with kinds, encodings and the health statuses")
    func listsExactlyTheRegisteredMethods() async throws {
        let router = DRPCTestService.router()
        #expect(Set(router.methodNames) == DRPCTestService.methodNames)
        try await withServerAndClient(router: router) { _, client in
            let listing = try await ReflectionClient(client).listMethods()
            #expect(listing.methods.map(\.name) == DRPCTestService.methodNames.sorted())
            let byName = Dictionary(uniqueKeysWithValues: listing.methods.map { ($0.name, $0) })
            #expect(byName[DRPCTestService.greet.name] == MethodDescriptor(
                name: "greeter.Greeter/Greet", kind: .unary, requestEncoding: "json", responseEncoding: "json",
                acceptsJSON: true, defaultTimeout: .seconds(20), isIdempotent: true
            ))
            #expect(byName[DRPCTestService.count.name]?.kind == .serverStreaming)
            #expect(byName[DRPCTestService.sum.name]?.kind == .clientStreaming)
            #expect(byName[DRPCTestService.chat.name]?.kind == .bidirectional)
            #expect(byName[DRPCTestService.mirror.name] == MethodDescriptor(
                name: "geo.Points/Mirror", kind: .unary, requestEncoding: "point-binary", responseEncoding: "point-binary",
                acceptsJSON: true, defaultTimeout: .seconds(30), isIdempotent: false
            ))
            #expect(byName[DRPCTestService.opaque.name]?.acceptsJSON == false)
            #expect(byName[DRPCTestService.opaque.name]?.requestEncoding == "custom")
            #expect(byName[HealthService.checkMethodName]?.requestEncoding == "protobuf")
            #expect(byName[HealthService.checkMethodName]?.responseEncoding == "protobuf")
            #expect(byName[HealthService.checkMethodName]?.acceptsJSON == false)
            #expect(byName[ReflectionService.listMethodsName]?.acceptsJSON == true)
            #expect(listing.health == [
                .init(service: "", status: .serving),
                .init(service: "geo.Points", status: .notServing),
                .init(service: "greeter.Greeter", status: .serving),
            ])
        }
    }

    @Test("A router with only reflection lists only reflection; without it, ListMethods is UNIMPLEMENTED")
    func onlyReflectionAndNone() async throws {
        var router = Router()
        router.addReflectionService()
        try await withServerAndClient(router: router) { _, client in
            let listing = try await ReflectionClient(client).listMethods()
            #expect(listing.methods.map(\.name) == [ReflectionService.describeMethodName, ReflectionService.listMethodsName])
            #expect(listing.health.isEmpty)
        }
        try await withServerAndClient(router: DRPCTestService.router(reflection: false)) { _, client in
            let error = await #expect(throws: RPCError.self) { try await ReflectionClient(client).listMethods() }
            #expect(error?.code == .unimplemented)
        }
    }

    @Test("DescribeMethod answers the method's descriptor; an unknown method is NOT_FOUND")
    func describe() async throws {
        try await withServerAndClient(router: DRPCTestService.router()) { _, client in
            let reflection = ReflectionClient(client)
            let count = try await reflection.describeMethod(DRPCTestService.count.name)
            #expect(count == MethodDescriptor(DRPCTestService.count))
            #expect(count.acceptsJSON && !count.isIdempotent && count.defaultTimeout == nil)

            let error = await #expect(throws: RPCError.self) { try await reflection.describeMethod("no.Such/Method") }
            #expect(error?.code == .notFound)
            #expect(error?.message == "This server does not serve 'no.Such/Method'.")
        }
    }

    @Test("Malformed reflection requests are INVALID_ARGUMENT; the messages' JSON is as PROTOCOL.md shows")
    func wireForm() async throws {
        try await withServerAndClient(router: DRPCTestService.router()) { _, client in
            let describe = Method<ByteBuffer, ByteBuffer>.raw(ReflectionService.describeMethodName, kind: .unary)
            let error = await #expect(throws: RPCError.self) { try await client.unary(describe, ByteBuffer(string: #"{"name":"x"}"#)) }
            #expect(error?.code == .invalidArgument)

            let reply = try await client.unary(describe, ByteBuffer(string: #"{"method":"greeter.Greeter/Greet"}"#))
            let object = try JSONSerialization.jsonObject(with: Data(reply.readableBytesView))
            let sorted = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
            #expect(sorted == #"{"acceptsJSON":true,"defaultTimeoutMilliseconds":20000,"idempotent":true,"kind":"unary","name":"greeter.Greeter/Greet","requestEncoding":"json","responseEncoding":"json"}"#)
        }
    }
}
