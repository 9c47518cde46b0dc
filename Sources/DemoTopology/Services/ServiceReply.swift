/// Every demo service's answer: who answered, what, and which parts were served degraded (by a fallback).
package struct ServiceReply: Codable, Sendable, Hashable {
    /// The answering service.
    package var service: String
    /// A short human-readable result.
    package var summary: String
    /// Parts served by a fallback because their service was late (empty when everything answered).
    package var degraded: [String] = []
}
