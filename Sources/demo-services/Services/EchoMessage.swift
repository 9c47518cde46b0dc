/// The echo server's message.
struct EchoMessage: Codable, Sendable {
    /// The text.
    var text: String
}
