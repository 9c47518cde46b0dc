/// What the front door turns an HTTP request into, and every service of the path receives.
package struct CheckoutRequest: Codable, Sendable, Hashable {
    /// The item bought; items not in local stock make inventory ask the slow warehouse.
    package var item: String
    /// Who buys; new users (names starting with `new`) have no cached recommendations.
    package var user: String
    /// How many; orders of ``fraudCheckQuantity`` or more need the fraud check.
    package var quantity: Int

    /// Creates a request.
    package init(item: String, user: String, quantity: Int) {
        self.item = item
        self.user = user
        self.quantity = quantity
    }

    /// Orders this large go through the fraud service.
    package static let fraudCheckQuantity = 10
    /// Items inventory has at hand; anything else comes from the warehouse.
    package static let stockedLocally: Set<String> = ["book", "pen", "mug", "lamp"]

    /// Whether the item is in local stock.
    package var isStockedLocally: Bool { Self.stockedLocally.contains(self.item) }
    /// Whether the user's recommendations are cold (slow to compute).
    package var isNewUser: Bool { self.user.hasPrefix("new") }
    /// Whether the order needs the fraud check.
    package var needsFraudCheck: Bool { self.quantity >= Self.fraudCheckQuantity }
}
