import DeadlineRPC
import DeadlineRPCProtobuf
import Foundation
import OrdersExample
import Testing

// The README's protobuf example ("Protobuf messages" under Tools), compiled and run here so it cannot rot.

// README-PROTOBUF-EXAMPLE-BEGIN
// Orders_* are protoc's types from Examples/Orders/orders.proto; the method is a value, as for Codable messages.
let placeOrder = Method<Orders_PlaceOrderRequest, Orders_Order>.unary("orders.Orders/Place")

func ordersRouter() -> Router {
    var router = Router()
    router.unary(placeOrder) { request, _ in
        if let short = request.items.first(where: { $0.quantity > 5 }) {
            var details = Orders_OutOfStock()
            details.sku = short.sku
            details.requested = short.quantity
            details.available = 5
            // The details travel typed, in the status-details-bin trailer.
            throw try RPCError(code: .failedPrecondition, message: "Not enough \(short.sku).", details: details)
        }
        var order = Orders_Order()
        order.orderID = "o-1"
        order.items = request.items
        return order
    }
    return router
}

func orderOrExplain(_ client: RPCClient, _ request: Orders_PlaceOrderRequest) async throws -> String {
    do {
        let order = try await client.unary(placeOrder, request, options: CallOptions(timeout: .seconds(5)))
        return "placed \(order.orderID)"
    } catch let error as RPCError {
        guard let outOfStock = try error.details(as: Orders_OutOfStock.self) else { throw error }
        return "only \(outOfStock.available) of \(outOfStock.sku) left"
    }
}
// README-PROTOBUF-EXAMPLE-END

@Suite("The README's protobuf example", .timeLimit(.minutes(5)))
struct ProtobufReadmeExampleTests {
    @Test("The example places an order, and explains a refusal from its typed details")
    func example() async throws {
        try await withServerAndClient(router: ordersRouter()) { _, client async throws in
            #expect(try await orderOrExplain(client, OrdersFixture.request([OrdersFixture.item("fig", 2, 10)])) == "placed o-1")
            #expect(try await orderOrExplain(client, OrdersFixture.request([OrdersFixture.item("fig", 9, 10)])) == "only 5 of fig left")
        }
    }

    @Test("README.md shows exactly the protobuf example compiled here")
    func readmeMatches() throws {
        let testFile = URL(fileURLWithPath: #filePath)
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: testFile, encoding: .utf8)
        let begin = "// README-PROTOBUF-EXAMPLE-" + "BEGIN\n"
        let end = "// README-PROTOBUF-EXAMPLE-" + "END"
        let examples = source.components(separatedBy: begin).dropFirst().compactMap { $0.components(separatedBy: end).first }
        #expect(examples.count == 1)
        for example in examples {
            #expect(readme.contains("```swift\n" + example + "```"))
        }
    }
}
