import DeadlineRPC
import DeadlineRPCProtobuf
import NIOCore
import OrdersExample

// Protobuf vs JSON codec cost for a ~1 KB message (the example's orders.Order, and a Codable mirror of it with the
// same fields and values): encode, decode, both; then a whole unary echo call over loopback TCP with each codec and
// with raw bytes of the protobuf size (the transport's floor). One line per case.
// Usage: codec-bench [seconds-per-case] [echo-calls]

let secondsPerCase = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 2 : 2
let echoCalls = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 20_000 : 20_000

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

/// The Codable twin of `Orders_Order`, field for field.
struct OrderJSON: Codable, Sendable, Equatable {
    struct Item: Codable, Sendable, Equatable {
        var sku: String
        var quantity: Int32
        var unitPriceCents: Int64
    }
    var orderId: String
    var customerId: String
    var items: [Item]
    var totalCents: Int64
    var state: String
    var note: String
}

let order: Orders_Order = {
    var order = Orders_Order()
    order.orderID = "order-2026-12-07-000000000042"
    order.customerID = "customer-7f3a9c2e-5b1d-4e8f-a6c0-123456789abc"
    order.items = (0..<16).map { index in
        var item = Orders_LineItem()
        item.sku = "sku-\(index)-warehouse-north-aisle-\(index * 7)-shelf-b"
        item.quantity = Int32(index + 1)
        item.unitPriceCents = Int64(1_999 + index * 101)
        return item
    }
    order.totalCents = order.items.reduce(0) { $0 + Int64($1.quantity) * $1.unitPriceCents }
    order.state = .packed
    order.note = String(repeating: "Leave at the side door, ring twice. ", count: 4)
    return order
}()

let orderJSON = OrderJSON(
    orderId: order.orderID,
    customerId: order.customerID,
    items: order.items.map { OrderJSON.Item(sku: $0.sku, quantity: $0.quantity, unitPriceCents: $0.unitPriceCents) },
    totalCents: order.totalCents,
    state: "ORDER_STATE_PACKED",
    note: order.note
)

let protobuf = ProtobufCodec<Orders_Order>()
let json = JSONCodec<OrderJSON>()
let allocator = ByteBufferAllocator()

var protobufBytes = allocator.buffer(capacity: 2048)
try protobuf.encode(order, into: &protobufBytes)
var jsonBytes = allocator.buffer(capacity: 2048)
try json.encode(orderJSON, into: &jsonBytes)
let protobufBack = try protobuf.decode(protobufBytes)
let jsonBack = try json.decode(jsonBytes)
precondition(protobufBack == order && jsonBack == orderJSON, "a codec did not round-trip the order")

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

func bench(_ name: String, _ body: () throws -> Void) rethrows {
    for _ in 0..<1_000 { try body() }
    let clock = ContinuousClock()
    var ops = 0
    let startTime = clock.now
    let deadline = startTime + .milliseconds(Int64(secondsPerCase * 1000))
    while clock.now < deadline {
        for _ in 0..<1_000 { try body() }
        ops += 1_000
    }
    let elapsed = clock.now - startTime
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(pad(name, 44) + lpad(String(Int((seconds * 1e9 / Double(ops)).rounded())), 9) + " ns/op " + lpad(String(Int(Double(ops) / seconds)), 10) + " ops/s")
}

print("codec-bench: \(secondsPerCase) s per codec case, \(echoCalls) echo calls per codec; orders.Order with \(order.items.count) items: protobuf \(protobufBytes.readableBytes) B, JSON \(jsonBytes.readableBytes) B")

var scratch = allocator.buffer(capacity: 4096)
try bench("protobuf encode") {
    scratch.clear()
    try protobuf.encode(order, into: &scratch)
    blackHole(scratch.readableBytes)
}
try bench("JSON encode") {
    scratch.clear()
    try json.encode(orderJSON, into: &scratch)
    blackHole(scratch.readableBytes)
}
try bench("protobuf decode") { blackHole(try protobuf.decode(protobufBytes)) }
try bench("JSON decode") { blackHole(try json.decode(jsonBytes)) }
try bench("protobuf encode + decode") {
    scratch.clear()
    try protobuf.encode(order, into: &scratch)
    blackHole(try protobuf.decode(scratch))
}
try bench("JSON encode + decode") {
    scratch.clear()
    try json.encode(orderJSON, into: &scratch)
    blackHole(try json.decode(scratch))
}

// A whole call: the client encodes the request, the server decodes it and encodes the same message back, the client
// decodes the reply — two encodes and two decodes per call, beside the transport's own cost (the raw case).
let protobufEcho = Method<Orders_Order, Orders_Order>.unary("bench.Codec/EchoProtobuf")
let jsonEcho = Method<OrderJSON, OrderJSON>.unary("bench.Codec/EchoJSON")
let rawEcho = Method<ByteBuffer, ByteBuffer>.raw("bench.Codec/EchoRaw", kind: .unary)

var router = Router()
router.unary(protobufEcho) { request, _ in request }
router.unary(jsonEcho) { request, _ in request }
router.unary(rawEcho) { request, _ in request }

func echo<Message: Sendable>(_ name: String, _ client: RPCClient, _ method: Method<Message, Message>, _ message: Message) async throws {
    let options = CallOptions(timeout: .seconds(10))
    for _ in 0..<min(1_000, echoCalls) { blackHole(try await client.unary(method, message, options: options)) }
    let clock = ContinuousClock()
    var latencies: [Duration] = []
    latencies.reserveCapacity(echoCalls)
    let startTime = clock.now
    for _ in 0..<echoCalls {
        let callStart = clock.now
        blackHole(try await client.unary(method, message, options: options))
        latencies.append(clock.now - callStart)
    }
    let elapsed = clock.now - startTime
    latencies.sort()
    func us(_ duration: Duration) -> String {
        let micros = Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        return String(Int(micros.rounded()))
    }
    let mean = elapsed / echoCalls
    print(pad(name, 44) + " mean " + lpad(us(mean), 5) + " µs  p50 " + lpad(us(latencies[echoCalls / 2]), 5) + " µs  p99 " + lpad(us(latencies[echoCalls * 99 / 100]), 5) + " µs  (one call at a time)")
}

let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await server.run() }
    let port = try await server.listeningAddress.port!
    let client = RPCClient(host: "127.0.0.1", port: port)
    try await echo("echo call, raw bytes (\(protobufBytes.readableBytes) B)", client, rawEcho, protobufBytes)
    try await echo("echo call, protobuf", client, protobufEcho, order)
    try await echo("echo call, JSON", client, jsonEcho, orderJSON)
    await client.close()
    server.beginGracefulShutdown()
}
