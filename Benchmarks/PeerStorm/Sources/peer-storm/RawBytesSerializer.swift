import GRPCCore

/// Responses are opaque bytes (the echoed payload, or nothing): no protobuf.
struct RawBytesSerializer: MessageSerializer {
    /// The bytes as they are.
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}
