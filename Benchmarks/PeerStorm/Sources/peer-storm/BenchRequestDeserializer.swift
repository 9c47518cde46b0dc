import GRPCCore
import NIOCore
import RPCBenchCore

/// Decodes a ``BenchRequest`` with rpcbench's own codec.
struct BenchRequestDeserializer: MessageDeserializer {
    /// The message, or `invalidArgument` when the header is malformed.
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> BenchRequest {
        let buffer = serializedMessageBytes.withUnsafeBytes { ByteBuffer(bytes: $0) }
        do {
            return try BenchRequestCodec().decode(buffer)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The bench request is malformed.")
        }
    }
}
