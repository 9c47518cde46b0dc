@testable import DeadlineRPC
import Foundation
import TestSupport
import Testing

/// `drpc` on a protobuf service (the Orders example): reflection says the method's encoding is `protobuf` with a
/// JSON form, so `drpc call` sends protobuf-JSON with `content-type: application/json` and prints the reply as
/// protobuf-JSON; typed error details arrive as the `status-details-bin` trailer.
@Suite("drpc on a protobuf service", .serialized, .timeLimit(.minutes(5)), .heavyweight)
struct DRPCProtobufTests {
    static func router() -> Router {
        var router = OrdersFixture.router()
        router.addReflectionService()
        return router
    }

    @Test("describe: protobuf both ways, accepts JSON")
    func describe() async throws {
        try await withDRPCServer(router: Self.router()) { target in
            let place = try await DRPCProcess.run(["describe", target, "orders.Orders/Place"])
            #expect(place.status == 0, "\(place)")
            #expect(place.stdoutLines == [
                "name: orders.Orders/Place",
                "kind: unary",
                "request encoding: protobuf",
                "response encoding: protobuf",
                "accepts JSON: yes",
                "default timeout: none",
                "idempotent: no",
            ])
        }
    }

    @Test("call: protobuf-JSON in, protobuf-JSON out; server-streaming one line per event")
    func call() async throws {
        try await withDRPCServer(router: Self.router()) { target in
            let request = #"{"customerId":"c-7","items":[{"sku":"apple","quantity":2,"unitPriceCents":"150"}],"note":"ring twice"}"#
            let place = try await DRPCProcess.run(["call", target, "orders.Orders/Place", request])
            #expect(place.status == 0, "\(place)")
            #expect(place.stdoutLines == [
                #"{"orderId":"order-1","customerId":"c-7","items":[{"sku":"apple","quantity":2,"unitPriceCents":"150"}],"totalCents":"300","state":"ORDER_STATE_PLACED","note":"ring twice"}"#
            ])

            let watch = try await DRPCProcess.run(["call", target, "orders.Orders/Watch", #"{"orderId":"order-1"}"#])
            #expect(watch.status == 0, "\(watch)")
            #expect(watch.stdoutLines == [
                #"{"orderId":"order-1","state":"ORDER_STATE_PLACED"}"#,
                #"{"orderId":"order-1","state":"ORDER_STATE_PACKED"}"#,
                #"{"orderId":"order-1","state":"ORDER_STATE_SHIPPED"}"#,
            ])
        }
    }

    @Test("a refused order: FAILED_PRECONDITION (exit 1), its message, and the details trailer with -v; bad JSON is INVALID_ARGUMENT (exit 4)")
    func errors() async throws {
        try await withDRPCServer(router: Self.router()) { target in
            let request = #"{"customerId":"c-7","items":[{"sku":"pear","quantity":3}]}"#
            let refused = try await DRPCProcess.run(["call", target, "orders.Orders/Place", request, "-v"])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stdoutLines == [
                "status: FAILED_PRECONDITION",
                "message: Not enough pear in stock.",
                "trailer: warehouse: north",
                // google.protobuf.Any { type_url: "type.googleapis.com/orders.OutOfStock", value: OutOfStock{pear, 3, 1} }
                "trailer: status-details-bin: 0a25747970652e676f6f676c65617069732e636f6d2f6f72646572732e4f75744f6653746f636b120a0a047065617210031801",
                "budget: none (no deadline)",
            ], "\(refused)")
            #expect(refused.stderr == "ERROR: FAILED_PRECONDITION: Not enough pear in stock.\n")

            let bad = try await DRPCProcess.run(["call", target, "orders.Orders/Place", #"{"customerId":7}"#])
            #expect(bad.status == 4, "\(bad)")
            #expect(bad.stderr.hasPrefix("ERROR: INVALID_ARGUMENT: "), "\(bad)")
        }
    }
}
