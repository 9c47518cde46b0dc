import NIOCore

/// Writes the requests of a client-streaming or bidirectional call.
///
/// `write` waits while the server is not keeping up (flow control) and throws once the call has ended.
public struct RequestWriter<Request: Sendable>: Sendable {
    let call: ClientCall
    let codec: any MessageCodec<Request>
    let allocator: ByteBufferAllocator

    /// Sends one request.
    public func write(_ request: Request) async throws {
        var buffer = self.allocator.buffer(capacity: 0)
        do {
            try self.codec.encode(request, into: &buffer)
        } catch {
            throw RPCError(code: .internal, message: "A request message could not be encoded.", cause: error)
        }
        let call = self.call
        let message = buffer
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            call.onLoop {
                let loop = call.loop
                guard let connection = loop.connection else {
                    continuation.resume(throwing: loop.outcomeError ?? RPCError(code: .unavailable, message: "The call is not connected."))
                    return
                }
                connection.send(call, message, continuation: continuation)
            }
        }
    }

    /// Sends each request in order.
    public func write<S: Sequence>(contentsOf requests: S) async throws where S.Element == Request {
        for request in requests { try await self.write(request) }
    }
}
