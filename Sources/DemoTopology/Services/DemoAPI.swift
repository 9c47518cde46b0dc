import DeadlineRPC

/// The demo's RPC methods: one unary method per service, shared by the service's server and its callers.
package enum DemoAPI {
    /// Metadata key carrying the front door's request id to every hop (for per-request records and logs).
    package static let requestIDKey = "demo-request-id"

    /// The method `service` serves (the front door serves HTTP, not RPC; it has none). The lookups are idempotent
    /// (a `RetryInterceptor` may send them again, to another replica); the checkout and the fraud check are not.
    package static func method(_ service: ServiceName) -> Method<CheckoutRequest, ServiceReply> {
        switch service {
        case .frontdoor, .gateway: return Self.checkout
        case .catalog: return .unary("demo.Catalog/Product", isIdempotent: true)
        case .pricing: return .unary("demo.Pricing/Quote", isIdempotent: true)
        case .inventory: return .unary("demo.Inventory/Stock", isIdempotent: true)
        case .warehouse: return .unary("demo.Warehouse/Locate", isIdempotent: true)
        case .recommendations: return .unary("demo.Recommendations/ForUser", isIdempotent: true)
        case .fraud: return .unary("demo.Fraud/Check")
        }
    }

    /// The gateway's entry point.
    package static let checkout = Method<CheckoutRequest, ServiceReply>.unary("demo.Gateway/Checkout")
}
