/// The request of the records method (empty).
public struct RecordsRequest: Sendable, Codable, Hashable {
    /// Creates the request.
    public init() {}
}
