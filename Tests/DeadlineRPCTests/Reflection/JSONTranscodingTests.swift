@testable import DeadlineRPC
import Foundation
import NIOCore
import Testing

/// Server-side JSON transcoding: a call with `content-type: application/json` is served in its method's JSON form
/// when the method's codecs have one, and refused `invalidArgument` when they do not; other calls are untouched.
@Suite("JSON transcoding on the server")
struct JSONTranscodingTests {
    static let json: Metadata = [JSONTranscoding.metadataKey: .string(JSONTranscoding.value)]

    static func raw(_ method: Method<Point, Point>) -> Method<ByteBuffer, ByteBuffer> {
        .raw(method.name, kind: method.kind)
    }

    @Test("A binary method with a JSON form: binary without the key, JSON with it, both through the same handler")
    func binaryAndJSONForms() async throws {
        try await withServerAndClient(router: DRPCTestService.router()) { _, client in
            let typed = try await client.unary(DRPCTestService.mirror, Point(x: 1, y: -2))
            #expect(typed == Point(x: -2, y: 1))

            var binary = ByteBuffer()
            PointCodec().encode(Point(x: 3, y: 4), into: &binary)
            let binaryReply = try await client.unary(Self.raw(DRPCTestService.mirror), binary)
            #expect(binaryReply.readableBytes == 8)
            #expect(try PointCodec().decode(binaryReply) == Point(x: 4, y: 3))

            let jsonReply = try await client.unary(
                Self.raw(DRPCTestService.mirror), ByteBuffer(string: #"{"x":5,"y":6}"#), options: CallOptions(metadata: Self.json)
            )
            #expect(String(buffer: jsonReply) == #"{"x":6,"y":5}"#)
        }
    }

    @Test("A method without a JSON form refuses a call that asks for one: INVALID_ARGUMENT naming the method and its encodings")
    func noJSONForm() async throws {
        try await withServerAndClient(router: DRPCTestService.router()) { _, client in
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(Self.raw(DRPCTestService.opaque), ByteBuffer(string: #"{"x":1,"y":2}"#), options: CallOptions(metadata: Self.json))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "geo.Points/Opaque has no JSON form (its encodings are custom and custom); send its own encoding without 'content-type: application/json'.")
            // The same method without the key works.
            let own = try await client.unary(DRPCTestService.opaque, Point(x: 7, y: 8))
            #expect(own == Point(x: 7, y: 8))
        }
    }

    @Test("JSON that does not decode is the caller's fault (INVALID_ARGUMENT); an unknown content-type is refused")
    func badJSONAndUnknownContentType() async throws {
        try await withServerAndClient(router: DRPCTestService.router()) { _, client in
            let bad = await #expect(throws: RPCError.self) {
                try await client.unary(Self.raw(DRPCTestService.mirror), ByteBuffer(string: #"{"x":"one"}"#), options: CallOptions(metadata: Self.json))
            }
            #expect(bad?.code == .invalidArgument)
            #expect(bad?.message.hasPrefix("The request is not valid JSON for this method: ") == true)

            let other = await #expect(throws: RPCError.self) {
                try await client.unary(
                    Self.raw(DRPCTestService.mirror), ByteBuffer(string: "{}"), options: CallOptions(metadata: ["content-type": "application/xml"])
                )
            }
            #expect(other?.code == .invalidArgument)
            #expect(other?.message == "Unsupported content-type 'application/xml': only 'application/json' is understood (or send none for the method's own encoding, point-binary).")

            // A binary request that does not decode stays the codec's failure: INTERNAL, as before.
            let binary = await #expect(throws: RPCError.self) {
                try await client.unary(Self.raw(DRPCTestService.mirror), ByteBuffer(string: "abc"))
            }
            #expect(binary?.code == .internal)
        }
    }

    @Test("Streaming JSON methods take the key too (JSONCodec's JSON form is its wire form), and bad JSON in a stream is INVALID_ARGUMENT")
    func streamingKinds() async throws {
        try await withServerAndClient(router: DRPCTestService.router()) { _, client in
            let options = CallOptions(metadata: Self.json)
            let counted = try await client.serverStreaming(.raw(DRPCTestService.count.name, kind: .serverStreaming), ByteBuffer(string: #"{"to":2}"#), options: options) { responses in
                var texts: [String] = []
                for try await response in responses { texts.append(String(buffer: response)) }
                return texts
            }
            #expect(counted == [#"{"n":1}"#, #"{"n":2}"#])

            let sum = try await client.clientStreaming(.raw(DRPCTestService.sum.name, kind: .clientStreaming), options: options) { writer in
                try await writer.write(ByteBuffer(string: #"{"n":2}"#))
                try await writer.write(ByteBuffer(string: #"{"n":40}"#))
            }
            #expect(String(buffer: sum) == #"{"total":42}"#)

            let error = await #expect(throws: RPCError.self) {
                try await client.clientStreaming(.raw(DRPCTestService.sum.name, kind: .clientStreaming), options: options) { writer in
                    try await writer.write(ByteBuffer(string: "not json"))
                }
            }
            #expect(error?.code == .invalidArgument)
        }
    }
}
