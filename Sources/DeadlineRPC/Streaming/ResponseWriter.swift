import Wire
import NIOCore

/// Writes the responses of a server-streaming or bidirectional call.
///
/// `write` waits when the client is not keeping up (flow control), and throws once the call has ended — cancelled,
/// expired or failed — so a producer loop stops by itself.
public struct ResponseWriter<Response: Sendable>: Sendable {
    let call: ServerCall
    let codec: any MessageCodec<Response>
    /// Queued bytes of the stream above which ``write(_:)`` waits; 0 waits until nothing is queued.
    var watermark = ConnectionWriter.writerWatermark

    /// Sends one response.
    public func write(_ response: Response) async throws {
        var buffer = self.call.allocator.buffer(capacity: 0)
        do {
            try self.codec.encode(response, into: &buffer)
        } catch {
            throw RPCError(code: .internal, message: "A response message could not be encoded.", cause: error)
        }
        try await self.call.send(buffer, watermark: self.watermark)
    }

    /// The same writer, but `write` returns only once the response has left the stream's queue (written, ahead of
    /// any frame the connection writes later): for a producer that coalesces its own updates rather than queue them.
    func waitingUntilWritten() -> Self {
        var copy = self
        copy.watermark = 0
        return copy
    }

    /// Sends each response in order.
    public func write<S: Sequence>(contentsOf responses: S) async throws where S.Element == Response {
        for response in responses { try await self.write(response) }
    }
}
