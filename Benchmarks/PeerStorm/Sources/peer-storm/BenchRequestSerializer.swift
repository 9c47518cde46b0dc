import GRPCCore
import NIOCore
import RPCBenchCore

/// Encodes a ``BenchRequest`` with rpcbench's own codec (28-byte header + payload), so both stacks carry the
/// same bytes.
struct BenchRequestSerializer: MessageSerializer {
    /// The message's bytes.
    func serialize<Bytes: GRPCContiguousBytes>(_ message: BenchRequest) throws -> Bytes {
        var buffer = ByteBuffer()
        BenchRequestCodec().encode(message, into: &buffer)
        return Bytes(buffer.readableBytesView)
    }
}
