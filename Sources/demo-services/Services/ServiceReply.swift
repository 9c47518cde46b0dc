/// Every demo service's answer: who answered, what, and which parts were served degraded (by a fallback).
struct ServiceReply: Codable, Sendable, Hashable {
    /// The answering service.
    var service: String
    /// A short human-readable result.
    var summary: String
    /// Parts served by a fallback because their service was late (empty when everything answered).
    var degraded: [String] = []
}
