import ArgumentParser

/// The services of the demo's checkout path, and who calls whom:
///
/// ```
/// frontdoor (HTTP) → gateway ─┬─ catalog
///                             ├─ pricing → inventory → warehouse (slow; only for items not stocked locally)
///                             ├─ recommendations (non-critical: a fallback when late; slow for new users)
///                             └─ fraud (orders of 10 or more; ignores cancellation on purpose)
/// ```
package enum ServiceName: String, CaseIterable, Sendable, Hashable, Codable, Comparable, ExpressibleByArgument {
    case frontdoor, gateway, catalog, pricing, inventory, warehouse, recommendations, fraud

    /// The services this one calls.
    package var downstreams: [ServiceName] {
        switch self {
        case .frontdoor: return [.gateway]
        case .gateway: return [.catalog, .pricing, .recommendations, .fraud]
        case .pricing: return [.inventory]
        case .inventory: return [.warehouse]
        case .catalog, .warehouse, .recommendations, .fraud: return []
        }
    }

    /// Leaves first, so every service's downstream ports are known when it starts (and shutdown, which a
    /// service group runs in reverse, stops the front door first).
    package static let startOrder: [ServiceName] = [
        .warehouse, .inventory, .pricing, .catalog, .recommendations, .fraud, .gateway, .frontdoor,
    ]

    /// The RPC services (everything but the HTTP front door), in call-path order for tables.
    package static let rpcServices: [ServiceName] = [.gateway, .catalog, .pricing, .inventory, .warehouse, .recommendations, .fraud]

    /// How deep in the path the service sits (the front door is 0), for tables.
    package var depth: Int {
        switch self {
        case .frontdoor: return 0
        case .gateway: return 1
        case .catalog, .pricing, .recommendations, .fraud: return 2
        case .inventory: return 3
        case .warehouse: return 4
        }
    }

    /// What the service stands for, for help texts and the README.
    package var role: String {
        switch self {
        case .frontdoor: return "HTTP front door: gives each request a budget"
        case .gateway: return "fans out to catalog, pricing, recommendations (with fallback) and fraud"
        case .catalog: return "product details"
        case .pricing: return "quotes a price, checks inventory"
        case .inventory: return "local stock; asks the warehouse for items not stocked"
        case .warehouse: return "the slow dependency"
        case .recommendations: return "non-critical: served with a fallback when late; slow for new users"
        case .fraud: return "checks orders of 10 or more; ignores cancellation on purpose"
        }
    }

    /// The default simulated work time.
    package var defaultLatency: Latency {
        switch self {
        case .frontdoor: return Latency(fixed: .zero)
        case .gateway: return Latency(fixed: .milliseconds(5), jitter: .milliseconds(2))
        case .catalog: return Latency(fixed: .milliseconds(15), jitter: .milliseconds(5))
        case .pricing: return Latency(fixed: .milliseconds(15), jitter: .milliseconds(5))
        case .inventory: return Latency(fixed: .milliseconds(10), jitter: .milliseconds(5))
        case .warehouse: return Latency(fixed: .milliseconds(800), jitter: .milliseconds(50))
        case .recommendations: return Latency(fixed: .milliseconds(20), jitter: .milliseconds(5))
        case .fraud: return Latency(fixed: .milliseconds(1_500))
        }
    }

    /// Orders by position in the call path.
    package static func < (lhs: ServiceName, rhs: ServiceName) -> Bool {
        Self.allCases.firstIndex(of: lhs)! < Self.allCases.firstIndex(of: rhs)!
    }
}
