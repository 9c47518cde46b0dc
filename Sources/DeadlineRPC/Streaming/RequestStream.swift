import Wire
import NIOCore

/// The requests of a client-streaming or bidirectional call, as an async sequence.
///
/// Reading is flow-controlled: the client is granted more credit only as you consume, so a slow handler holds at
/// most one window of bytes. The sequence throws the call's `RPCError` if the call is cancelled or expires.
public struct RequestStream<Request: Sendable>: AsyncSequence, Sendable {
    /// The element type.
    public typealias Element = Request

    let queue: InboundMessageQueue
    let codec: any MessageCodec<Request>

    /// Iterates the requests.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: InboundMessageQueue
        let codec: any MessageCodec<Request>

        /// The next request, or nil once the client has half-closed.
        public mutating func next() async throws -> Request? {
            guard let bytes = try await self.queue.next() else { return nil }
            do {
                return try self.codec.decode(bytes)
            } catch let error as RPCError {
                // The codec chose the status (``ServerCall/decodeFirst(_:)`` says why).
                throw error
            } catch let error as JSONFormDecodingError {
                throw RPCError(code: .invalidArgument, message: error.description, cause: error.cause)
            } catch {
                throw RPCError(code: .internal, message: "A request message could not be decoded.", cause: error)
            }
        }
    }

    /// Makes an iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: self.queue, codec: self.codec)
    }
}
