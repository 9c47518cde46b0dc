import DeadlineRPC
import DeadlineRPCProtobuf
import OrdersExample

/// The example Orders service as the protobuf tests serve it: Place prices an order or refuses it with
/// `OutOfStock` details; Watch streams an order's states.
enum OrdersFixture {
    /// What the fake warehouse holds.
    static let stock: [String: Int32] = ["apple": 10, "pear": 1]

    static func router() -> Router {
        var router = Router()
        router.unary(OrdersMethods.place) { request, _ in
            // guide:begin protobuf-details-throw
            for item in request.items where item.quantity > (stock[item.sku] ?? 0) {
                var details = Orders_OutOfStock()
                details.sku = item.sku
                details.requested = item.quantity
                details.available = stock[item.sku] ?? 0
                throw try RPCError(
                    code: .failedPrecondition,
                    message: "Not enough \(item.sku) in stock.",
                    details: details,
                    metadata: ["warehouse": "north"]  // other trailers travel beside the details
                )
            }
            // guide:end protobuf-details-throw
            var order = Orders_Order()
            order.orderID = "order-1"
            order.customerID = request.customerID
            order.items = request.items
            order.totalCents = request.items.reduce(0) { $0 + Int64($1.quantity) * $1.unitPriceCents }
            order.state = .placed
            order.note = request.note
            return order
        }
        router.serverStreaming(OrdersMethods.watch) { request, writer, _ in
            for state in [Orders_OrderState.placed, .packed, .shipped] {
                var event = Orders_OrderEvent()
                event.orderID = request.orderID
                event.state = state
                try await writer.write(event)
            }
        }
        return router
    }

    static func item(_ sku: String, _ quantity: Int32, _ unitPriceCents: Int64) -> Orders_LineItem {
        var item = Orders_LineItem()
        item.sku = sku
        item.quantity = quantity
        item.unitPriceCents = unitPriceCents
        return item
    }

    static func request(_ items: [Orders_LineItem], note: String = "") -> Orders_PlaceOrderRequest {
        var request = Orders_PlaceOrderRequest()
        request.customerID = "c-7"
        request.items = items
        request.note = note
        return request
    }
}
