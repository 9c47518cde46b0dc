/// Why a throwaway certificate could not be made or written.
public struct ThrowawayPKIError: Error, CustomStringConvertible, Sendable {
    /// The reason, as a sentence.
    public let description: String

    init(_ description: String) { self.description = description }
}
