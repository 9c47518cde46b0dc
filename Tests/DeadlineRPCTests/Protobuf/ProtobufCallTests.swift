import DeadlineRPC
import DeadlineRPCProtobuf
import NIOCore
import OrdersExample
import SwiftProtobuf
import Testing

/// Protobuf messages over a real server: the example Orders service (Examples/Orders) on loopback TCP.
@Suite("Protobuf messages over loopback TCP", .timeLimit(.minutes(5)))
struct ProtobufCallTests {
    static let options = CallOptions(timeout: .seconds(30))

    @Test("A unary call carries protobuf messages both ways, every field intact")
    func unaryRoundTrip() async throws {
        try await withServerAndClient(router: OrdersFixture.router()) { _, client async throws in
            let items = [OrdersFixture.item("apple", 3, 125), OrdersFixture.item("pear", 1, 999)]
            let order = try await client.unary(OrdersMethods.place, OrdersFixture.request(items, note: "ring twice"), options: Self.options)
            var expected = Orders_Order()
            expected.orderID = "order-1"
            expected.customerID = "c-7"
            expected.items = items
            expected.totalCents = 3 * 125 + 999
            expected.state = .placed
            expected.note = "ring twice"
            #expect(order == expected)
        }
    }

    @Test("A server-streaming call delivers each protobuf message in order, then ends")
    func serverStreamingRoundTrip() async throws {
        try await withServerAndClient(router: OrdersFixture.router()) { _, client async throws in
            var request = Orders_WatchOrderRequest()
            request.orderID = "order-9"
            let events = try await client.serverStreaming(OrdersMethods.watch, request, options: Self.options) { responses in
                var events: [Orders_OrderEvent] = []
                for try await event in responses { events.append(event) }
                return events
            }
            #expect(events.map(\.orderID) == ["order-9", "order-9", "order-9"])
            #expect(events.map(\.state) == [.placed, .packed, .shipped])
        }
    }

    @Test("A handler's error with OutOfStock details reaches the caller typed, beside its other trailers")
    func errorDetailsReadBackTyped() async throws {
        try await withServerAndClient(router: OrdersFixture.router()) { _, client async throws in
            let request = OrdersFixture.request([OrdersFixture.item("apple", 1, 125), OrdersFixture.item("pear", 4, 999)])
            let error = await #expect(throws: RPCError.self) {
                try await client.unary(OrdersMethods.place, request, options: Self.options)
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message == "Not enough pear in stock.")
            #expect(error?.metadata.first(forKey: "warehouse") == "north")
            #expect(try error?.detailsTypeName() == "orders.OutOfStock")
            var expected = Orders_OutOfStock()
            expected.sku = "pear"
            expected.requested = 4
            expected.available = 1
            #expect(try error?.details(as: Orders_OutOfStock.self) == expected)
            // Details of another type are not these details.
            #expect(try error?.details(as: Orders_Order.self) == nil)

            var explained: String? = nil
            // guide:begin protobuf-details-read
            do {
                _ = try await client.unary(OrdersMethods.place, request, options: Self.options)
            } catch let error as RPCError {
                if let outOfStock = try error.details(as: Orders_OutOfStock.self) {
                    explained = "only \(outOfStock.available) of \(outOfStock.sku) left"
                } else {
                    throw error
                }
            }
            // guide:end protobuf-details-read
            #expect(explained == "only 1 of pear left")
        }
    }

    @Test(
        "A malformed protobuf request ends the call invalidArgument naming the type and the reason; the handler does not run and the connection serves on",
        arguments: [
            ([0x0a, 0x05, 0x61] as [UInt8], "the data ends inside a field"),
            ([0x0f], "the data is not protobuf (a bad tag, wire type or length)"),
            ([0x0a, 0x01, 0xff], "a string field is not valid UTF-8"),
        ]
    )
    func malformedRequest(bytes: [UInt8], reason: String) async throws {
        let rawPlace = Method<ByteBuffer, ByteBuffer>.raw("orders.Orders/Place", kind: .unary)
        let rawWatch = Method<ByteBuffer, ByteBuffer>.raw("orders.Orders/Watch", kind: .serverStreaming)
        try await withServerAndClient(router: OrdersFixture.router()) { _, client async throws in
            let place = await #expect(throws: RPCError.self) {
                try await client.unary(rawPlace, ByteBuffer(bytes: bytes), options: Self.options)
            }
            #expect(place?.code == .invalidArgument)
            #expect(place?.message == "The payload is not a valid protobuf orders.PlaceOrderRequest message: \(reason).")
            let watch = await #expect(throws: RPCError.self) {
                try await client.serverStreaming(rawWatch, ByteBuffer(bytes: bytes), options: Self.options) { responses in
                    for try await _ in responses {}
                }
            }
            #expect(watch?.code == .invalidArgument)
            #expect(watch?.message == "The payload is not a valid protobuf orders.WatchOrderRequest message: \(reason).")
            let order = try await client.unary(OrdersMethods.place, OrdersFixture.request([]), options: Self.options)
            #expect(order.orderID == "order-1")
        }
    }

    @Test("A malformed message inside a request stream ends the call invalidArgument with the reason")
    func malformedStreamedRequest() async throws {
        let count = Method<Orders_LineItem, Orders_Order>.clientStreaming("test.Lines/Count")
        let rawCount = Method<ByteBuffer, ByteBuffer>.raw("test.Lines/Count", kind: .clientStreaming)
        let handled = Signal()
        var router = Router()
        router.clientStreaming(count) { requests, _ in
            var order = Orders_Order()
            do {
                for try await item in requests { order.items.append(item) }
            } catch {
                handled.fire()
                throw error
            }
            return order
        }
        try await withServerAndClient(router: router) { _, client async throws in
            var good = ByteBuffer()
            try ProtobufCodec<Orders_LineItem>().encode(OrdersFixture.item("apple", 1, 1), into: &good)
            let error = await #expect(throws: RPCError.self) {
                try await client.clientStreaming(rawCount, options: Self.options) { writer in
                    try await writer.write(good)
                    try await writer.write(ByteBuffer(bytes: [0x08]))
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "The payload is not a valid protobuf orders.LineItem message: the data ends inside a field.")
            #expect(await handled.wait())
        }
    }
}
