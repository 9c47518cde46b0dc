import DemoTopology

/// One scripted request through the front door, with the story it tells.
struct Scenario: Sendable, Hashable {
    /// A short id (`budget-gone`), used in request ids and `--only`.
    var id: String
    /// The title printed above its table.
    var title: String
    /// The request path and query.
    var path: String
    /// The `X-Budget-Ms` header to send, if any.
    var budgetMs: Int?
    /// What happens, in one or two sentences.
    var story: String

    /// The scripted scenarios, in the order they run, with numbers from `settings`.
    static func all(_ settings: TopologySettings) -> [Scenario] {
        let budget = settings.budget.wholeMilliseconds
        return [
            Scenario(
                id: "all-fast",
                title: "All fast",
                path: "/checkout?item=book&user=ada&qty=1",
                story: "Every service answers well within the \(budget) ms budget."
            ),
            Scenario(
                id: "budget-gone",
                title: "The budget runs out mid-chain",
                path: "/checkout?item=piano&user=ada&qty=1",
                story: "Pianos are not stocked locally: inventory asks the warehouse, which takes \(settings.latency(.warehouse)). The \(budget) ms budget runs out four hops down."
            ),
            Scenario(
                id: "fallback",
                title: "A non-critical dependency is late",
                path: "/checkout?item=book&user=newbie&qty=1",
                story: "Recommendations for a new user take \(settings.coldRecommendations); the gateway gives them \(settings.recommendationsBudget.wholeMilliseconds) ms of its budget, then serves bestsellers instead."
            ),
            Scenario(
                id: "straggler",
                title: "A service ignores cancellation",
                path: "/checkout?item=book&user=ada&qty=20",
                story: "Orders of \(CheckoutRequest.fraudCheckQuantity) or more need the fraud check, which takes \(settings.latency(.fraud)) and never looks at cancellation."
            ),
            Scenario(
                id: "tiny-budget",
                title: "A request arrives with too little budget",
                path: "/checkout?item=book&user=ada&qty=1",
                budgetMs: 150,
                story: "The caller asks for 150 ms; the gateway needs at least \(settings.gatewayMinimumBudget.wholeMilliseconds) ms to be worth starting, so the runtime sheds the call."
            ),
        ]
    }
}
