import NIOCore
import Wire

/// The responses of a server-streaming or bidirectional call, as an async sequence.
///
/// Iteration ends when the server ends the call with OK, and throws the call's `RPCError` otherwise (including
/// `deadlineExceeded` the moment the deadline passes). Reading is flow-controlled.
public struct ResponseStream<Response: Sendable>: AsyncSequence, Sendable {
    /// The element type.
    public typealias Element = Response

    let queue: InboundMessageQueue
    let codec: any MessageCodec<Response>

    /// Iterates the responses.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: InboundMessageQueue
        let codec: any MessageCodec<Response>

        /// The next response, or nil once the call ended with OK.
        public mutating func next() async throws -> Response? {
            guard let bytes = try await self.queue.next() else { return nil }
            do {
                return try self.codec.decode(bytes)
            } catch {
                throw RPCError(code: .internal, message: "A response message could not be decoded.", cause: error)
            }
        }
    }

    /// The trailing metadata the server ended the call with: empty while the call is open, set once it ended with
    /// OK (certainly once iteration has returned nil); a failed call's trailers are in the thrown ``RPCError/metadata``.
    public var trailers: Metadata { self.queue.trailers }

    /// Makes an iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: self.queue, codec: self.codec)
    }
}
