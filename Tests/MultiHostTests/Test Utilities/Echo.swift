import DeadlineRPC

/// The message of `demo-services echo-server` and `chain-hop`.
struct Echo: Codable, Sendable, Equatable {
    var text: String
}

/// The methods of `demo-services echo-server` and `chain-hop`, as a client in the test process calls them.
enum BedMethods {
    /// Echoes its text.
    static let echo = Method<Echo, Echo>.unary("demo.Echo/Get")
    /// Waits until cancelled.
    static let wait = Method<Echo, Echo>.unary("demo.Echo/Wait")
    /// Calls the next hop, or works until cancelled at the last one.
    static let hop = Method<Echo, Echo>.unary("chain.Hop/Call")
}
