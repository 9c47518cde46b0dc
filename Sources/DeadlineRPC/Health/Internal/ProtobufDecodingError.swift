/// Why bytes were refused as a protobuf message: the fault and the byte offset where it was found.
struct ProtobufDecodingError: Error, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. `field 1 declares 5 bytes but 2 remain (at byte 2)`.
    var reason: String

    var description: String { self.reason }
}
