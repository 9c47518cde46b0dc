import DemoTopology
import RPCBenchCore

/// The checkouts rpcbench sends through the demo topology in place of its echo and work calls: the bench's
/// workload keeps its shape (rates, cancels, budgets, bursts, disconnects) while the work is the services' own.
package enum DemoCheckout {
    /// A victim: a stocked item, one of it, a known user — gateway, catalog, pricing → inventory and
    /// recommendations, about 40 ms with the default latencies, no slow dependency and no fraud check.
    package static let victim = CheckoutRequest(item: "book", user: "ada", quantity: 1)

    /// A storm call: an item not stocked locally, so pricing → inventory → warehouse (800 ms) runs far longer than
    /// any cancel delay or budget. Chain kinds (`request.hops > 1`) also order enough to need the fraud check, the
    /// service that ignores cancellation on purpose.
    package static func storm(_ request: BenchRequest) -> CheckoutRequest {
        CheckoutRequest(item: "desk", user: "ada", quantity: request.hops > 1 ? CheckoutRequest.fraudCheckQuantity : 1)
    }

    /// The request id that marks a storm call as tracked (every service keeps its records for `/tracked`), and
    /// joins those records with the client's by tag.
    package static func requestID(tag: UInt64) -> String {
        "\(HopLog.trackedPrefix)\(tag)"
    }

    /// The tag in a tracked request id, or nil for any other id.
    package static func tag(requestID: String) -> UInt64? {
        guard requestID.hasPrefix(HopLog.trackedPrefix) else { return nil }
        return UInt64(requestID.dropFirst(HopLog.trackedPrefix.count))
    }
}
