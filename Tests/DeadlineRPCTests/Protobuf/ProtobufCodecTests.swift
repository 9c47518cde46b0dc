import DeadlineRPC
import DeadlineRPCProtobuf
import Foundation
import NIOCore
import OrdersExample
import SwiftProtobuf
import Testing

/// `ProtobufCodec` on its own: its name, binary and protobuf-JSON forms, and its errors.
@Suite("ProtobufCodec: encoding name, binary and JSON forms, errors")
struct ProtobufCodecTests {
    static let request = OrdersFixture.request(
        [OrdersFixture.item("apple", 3, 125), OrdersFixture.item("pear", 1, 9_007_199_254_740_993)],
        note: "ring twice"
    )

    @Test("The codec names its encoding protobuf, and so do both codecs of a protobuf Method")
    func encodingName() {
        #expect(ProtobufCodec<Orders_Order>().encodingName == "protobuf")
        #expect(OrdersMethods.place.requestCodec.encodingName == "protobuf")
        #expect(OrdersMethods.place.responseCodec.encodingName == "protobuf")
        #expect(OrdersMethods.watch.kind == .serverStreaming)
        // The runtime finds the JSON form through the contract, not through the concrete type.
        #expect(OrdersMethods.place.requestCodec is any JSONTranscodingCodec)
    }

    @Test("Method's conveniences declare protobuf methods as they declare Codable ones")
    func methods() {
        // guide:begin protobuf-methods
        let place = Method<Orders_PlaceOrderRequest, Orders_Order>.unary("orders.Orders/Place")
        let watch = Method<Orders_WatchOrderRequest, Orders_OrderEvent>.serverStreaming("orders.Orders/Watch")
        // guide:end protobuf-methods
        #expect(place.name == "orders.Orders/Place")
        #expect(place.kind == .unary)
        #expect(watch.kind == .serverStreaming)
        #expect(watch.requestCodec.encodingName == "protobuf")
        #expect(watch.responseCodec.encodingName == "protobuf")
    }

    @Test("The binary form is swift-protobuf's serialization and decodes back to an equal message")
    func binaryRoundTrip() throws {
        let codec = ProtobufCodec<Orders_PlaceOrderRequest>()
        var buffer = ByteBuffer(bytes: [0xAA])  // encode appends: what is already there stays
        try codec.encode(Self.request, into: &buffer)
        #expect(buffer.readInteger(as: UInt8.self) == 0xAA)
        #expect(Array(buffer.readableBytesView) == (try Self.request.serializedBytes() as [UInt8]))
        #expect(try codec.decode(buffer) == Self.request)
        // An empty payload is the message with every field at its default, as in protobuf itself.
        #expect(try codec.decode(ByteBuffer()) == Orders_PlaceOrderRequest())
    }

    @Test("The JSON form is protobuf-JSON: lowerCamelCase names, int64 as strings, enums by name; it decodes back")
    func jsonRoundTrip() throws {
        let requestCodec = ProtobufCodec<Orders_PlaceOrderRequest>()
        var buffer = ByteBuffer()
        try requestCodec.encodeJSON(Self.request, into: &buffer)
        let json = String(buffer: buffer)
        #expect(json == #"{"customerId":"c-7","items":[{"sku":"apple","quantity":3,"unitPriceCents":"125"},{"sku":"pear","quantity":1,"unitPriceCents":"9007199254740993"}],"note":"ring twice"}"#)
        #expect(try requestCodec.decodeJSON(buffer) == Self.request)

        // Proto field names and number-valued int64s are accepted too, as protobuf-JSON requires.
        // guide:begin protobuf-json-form
        let codec = ProtobufCodec<Orders_Order>()
        let order = try codec.decodeJSON(ByteBuffer(string: #"{"order_id":"o-1","total_cents":42,"state":"ORDER_STATE_SHIPPED"}"#))
        var out = ByteBuffer()
        try codec.encodeJSON(order, into: &out)
        // String(buffer: out) == #"{"orderId":"o-1","totalCents":"42","state":"ORDER_STATE_SHIPPED"}"#
        // guide:end protobuf-json-form
        #expect(order.orderID == "o-1")
        #expect(order.totalCents == 42)
        #expect(order.state == .shipped)
        #expect(String(buffer: out) == #"{"orderId":"o-1","totalCents":"42","state":"ORDER_STATE_SHIPPED"}"#)
    }

    @Test(
        "JSON that is not the message fails invalidArgument naming the type and the reason",
        arguments: [
            (#"{"customerId":"c-7","colour":"red"}"#, "unknown field 'colour'"),
            (#"{"customerId":7}"#, "malformed JSON (malformedString)"),
            ("", "the JSON ends early (or is empty)"),
            (#"{"items":[{"quantity":"many"}]}"#, "malformed JSON (malformedNumber)"),
            (#"{""# + String(repeating: "k", count: 5_000) + #"":1}"#, "unknown field '" + String(repeating: "k", count: 64) + "…'"),
        ]
    )
    func malformedJSON(json: String, reason: String) {
        let error = #expect(throws: RPCError.self) {
            try ProtobufCodec<Orders_PlaceOrderRequest>().decodeJSON(ByteBuffer(string: json))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "The payload is not a valid protobuf-JSON orders.PlaceOrderRequest message: \(reason).")
    }

    @Test("Binary that is not the message fails invalidArgument naming the type and the reason")
    func malformedBinary() {
        let error = #expect(throws: RPCError.self) {
            try ProtobufCodec<Orders_LineItem>().decode(ByteBuffer(bytes: [0x0a, 0x05, 0x61]))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "The payload is not a valid protobuf orders.LineItem message: the data ends inside a field.")
        #expect(error?.cause is BinaryDecodingError)
    }

    @Test("A type that is both a protobuf message and Codable gets the protobuf codec from Method's conveniences")
    func protobufWinsOverCodable() {
        let method = Method<BothLineItem, BothLineItem>.unary("test.Both/Echo")
        #expect(method.requestCodec.encodingName == "protobuf")
        #expect(method.responseCodec.encodingName == "protobuf")
        #expect(Method<BothLineItem, BothLineItem>.bidirectional("test.Both/Chat").requestCodec.encodingName == "protobuf")
        // JSON stays available by naming the codecs.
        // guide:begin protobuf-explicit-codecs
        let asJSON = Method<BothLineItem, BothLineItem>(
            "test.Both/Echo",
            kind: .unary,
            requestCodec: JSONCodec<BothLineItem>(),
            responseCodec: JSONCodec<BothLineItem>()
        )
        // guide:end protobuf-explicit-codecs
        #expect(asJSON.requestCodec.encodingName == "json")
        #expect(asJSON.responseCodec.encodingName == "json")
    }
}

/// A protobuf message that is `Codable` too (a wrapper: protoc's types are not `Codable`, and conforming an imported
/// type to an imported protocol would be retroactive).
struct BothLineItem: SwiftProtobuf.Message, Codable, Equatable {
    static let protoMessageName = "test.BothLineItem"
    var item = Orders_LineItem()
    var unknownFields: UnknownStorage {
        get { self.item.unknownFields }
        set { self.item.unknownFields = newValue }
    }

    init() {}

    mutating func decodeMessage<D: SwiftProtobuf.Decoder>(decoder: inout D) throws {
        try self.item.decodeMessage(decoder: &decoder)
    }

    func traverse<V: SwiftProtobuf.Visitor>(visitor: inout V) throws {
        try self.item.traverse(visitor: &visitor)
    }

    func isEqualTo(message: any SwiftProtobuf.Message) -> Bool {
        (message as? BothLineItem) == self
    }

    init(from decoder: any Swift.Decoder) throws {
        self.item.sku = try decoder.singleValueContainer().decode(String.self)
    }

    func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.item.sku)
    }
}
