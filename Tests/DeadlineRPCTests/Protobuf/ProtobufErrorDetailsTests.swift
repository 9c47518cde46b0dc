import DeadlineRPC
import DeadlineRPCProtobuf
import OrdersExample
import Foundation
import SwiftProtobuf
import Testing

/// The error-details convention on its own (ProtobufCallTests sends it over a real server).
@Suite("Protobuf error details in the status-details-bin trailer")
struct ProtobufErrorDetailsTests {
    static var outOfStock: Orders_OutOfStock {
        var details = Orders_OutOfStock()
        details.sku = "pear"
        details.requested = 4
        details.available = 1
        return details
    }

    @Test("The details travel as one status-details-bin trailer holding a google.protobuf.Any of the message")
    func trailerLayout() throws {
        let error = try RPCError(code: .failedPrecondition, message: "No pears.", details: Self.outOfStock)
        #expect(ProtobufErrorDetails.metadataKey == "status-details-bin")
        #expect(error.metadata.map { $0.key } == ["status-details-bin"])
        guard case .binary(let bytes)? = error.metadata.values(forKey: "status-details-bin").first else {
            Issue.record("the details trailer is not binary")
            return
        }
        let packed = try Google_Protobuf_Any(serializedBytes: bytes)
        #expect(packed.typeURL == "type.googleapis.com/orders.OutOfStock")
        #expect(try Orders_OutOfStock(serializedBytes: packed.value) == Self.outOfStock)
        #expect(error.metadata.validate() == nil)
    }

    @Test("An error without details has none of any type")
    func noDetails() throws {
        let error = RPCError(code: .notFound, message: "No such order.", metadata: ["warehouse": "north"])
        #expect(try error.details(as: Orders_OutOfStock.self) == nil)
        #expect(try error.detailsTypeName() == nil)
    }

    @Test("Metadata that already has the details key is refused, never overwritten")
    func collision() {
        let error = #expect(throws: MetadataCollision.self) {
            try RPCError(
                code: .failedPrecondition, message: "No pears.", details: Self.outOfStock,
                metadata: ["status-details-bin": .binary([1, 2, 3])]
            )
        }
        #expect(error?.key == "status-details-bin")
    }

    @Test("A details trailer that is not a google.protobuf.Any fails invalidArgument with the reason")
    func malformedTrailer() {
        let error = RPCError(code: .internal, message: "x", metadata: ["status-details-bin": .binary([0x0a, 0x09, 0x61])])
        let thrown = #expect(throws: RPCError.self) { try error.details(as: Orders_OutOfStock.self) }
        #expect(thrown?.code == .invalidArgument)
        #expect(thrown?.message == "The status-details-bin trailer is not a valid protobuf google.protobuf.Any message: the data ends inside a field.")
    }

    @Test("An Any of the right type whose bytes are not that message fails invalidArgument naming the type")
    func malformedDetails() throws {
        var packed = Google_Protobuf_Any()
        packed.typeURL = "type.googleapis.com/orders.OutOfStock"
        packed.value = Data([0x0f])
        let error = RPCError(code: .internal, message: "x", metadata: ["status-details-bin": .binary(try packed.serializedBytes())])
        #expect(try error.detailsTypeName() == "orders.OutOfStock")
        let thrown = #expect(throws: RPCError.self) { try error.details(as: Orders_OutOfStock.self) }
        #expect(thrown?.code == .invalidArgument)
        #expect(thrown?.message == "The error details' value is not a valid protobuf orders.OutOfStock message: the data is not protobuf (a bad tag, wire type or length).")
    }
}
