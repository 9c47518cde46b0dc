/// What the front door turns an HTTP request into, and every service of the path receives.
struct CheckoutRequest: Codable, Sendable, Hashable {
    /// The item bought; items not in local stock make inventory ask the slow warehouse.
    var item: String
    /// Who buys; new users (names starting with `new`) have no cached recommendations.
    var user: String
    /// How many; orders of ``fraudCheckQuantity`` or more need the fraud check.
    var quantity: Int

    /// Orders this large go through the fraud service.
    static let fraudCheckQuantity = 10
    /// Items inventory has at hand; anything else comes from the warehouse.
    static let stockedLocally: Set<String> = ["book", "pen", "mug", "lamp"]

    /// Whether the item is in local stock.
    var isStockedLocally: Bool { Self.stockedLocally.contains(self.item) }
    /// Whether the user's recommendations are cold (slow to compute).
    var isNewUser: Bool { self.user.hasPrefix("new") }
    /// Whether the order needs the fraud check.
    var needsFraudCheck: Bool { self.quantity >= Self.fraudCheckQuantity }
}
