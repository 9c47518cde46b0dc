import GRPCCore

/// Responses are opaque bytes (the echoed payload, or nothing): no protobuf.
struct RawBytesDeserializer: MessageDeserializer {
    /// The bytes as they are.
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}
