import Wire
import NIOCore

/// The handler task's side of one server stream: the request(s), the context, and the way back to the
/// connection's event loop for responses and the outcome.
final class ServerCall: Sendable {
    let context: CallContext
    let streamID: UInt32
    /// The request of a single-request call (set before the task starts, never changed).
    let firstMessage: ByteBuffer?
    /// The requests of a streaming-request call.
    let requests: InboundMessageQueue?
    let allocator: ByteBufferAllocator
    private let connection: NIOLoopBound<ServerConnectionHandler>

    init(
        context: CallContext,
        streamID: UInt32,
        firstMessage: ByteBuffer?,
        requests: InboundMessageQueue?,
        allocator: ByteBufferAllocator,
        connection: NIOLoopBound<ServerConnectionHandler>
    ) {
        self.context = context
        self.streamID = streamID
        self.firstMessage = firstMessage
        self.requests = requests
        self.allocator = allocator
        self.connection = connection
    }

    private func onLoop(_ body: @escaping @Sendable (ServerConnectionHandler) -> Void) {
        let eventLoop = self.connection.eventLoop
        if eventLoop.inEventLoop {
            body(self.connection.value)
        } else {
            let connection = self.connection
            eventLoop.execute { body(connection.value) }
        }
    }

    /// Decodes the single request, or ends the call with `internal` when it cannot be decoded.
    func decodeFirst<Request>(_ codec: any MessageCodec<Request>) -> Request? {
        do {
            return try codec.decode(self.firstMessage ?? ByteBuffer())
        } catch {
            self.finish(response: nil, status: Status(code: .internal, message: "The request message could not be decoded."), trailers: Metadata())
            return nil
        }
    }

    /// Runs a single-response handler body with the call context set, then reports its outcome.
    func respond<Response>(_ codec: any MessageCodec<Response>, _ body: () async throws -> Response) async {
        do {
            let response = try await CallContext.$current.withValue(self.context) { try await body() }
            var buffer = self.allocator.buffer(capacity: 0)
            do {
                try codec.encode(response, into: &buffer)
            } catch {
                self.finish(response: nil, status: Status(code: .internal, message: "The response message could not be encoded."), trailers: Metadata())
                return
            }
            self.finish(response: buffer, status: .ok, trailers: self.context.control.trailers)
        } catch {
            let (status, trailers) = self.outcome(of: error)
            self.finish(response: nil, status: status, trailers: trailers)
        }
    }

    /// Runs a streaming-response handler body with the call context set, then reports its outcome.
    func respondStreaming(_ body: () async throws -> Void) async {
        do {
            try await CallContext.$current.withValue(self.context) { try await body() }
            self.finish(response: nil, status: .ok, trailers: self.context.control.trailers)
        } catch {
            let (status, trailers) = self.outcome(of: error)
            self.finish(response: nil, status: status, trailers: trailers)
        }
    }

    /// Maps what a handler threw to the status the caller sees; only `RPCError` text crosses the wire.
    private func outcome(of error: any Error) -> (Status, Metadata) {
        if let error = error as? RPCError {
            return (error.status, error.metadata)
        }
        if let reason = self.context.control.cancelReason {
            return (Status(code: reason.statusCode, message: "The call was cancelled (\(reason))."), Metadata())
        }
        if error is CancellationError {
            return (Status(code: .cancelled, message: "The handler was cancelled."), Metadata())
        }
        return (Status(code: .unknown, message: "The handler threw an error that is not an RPCError."), Metadata())
    }

    /// Reports the handler's outcome (exactly once per call; the connection ignores it if the call already ended).
    func finish(response: ByteBuffer?, status: Status, trailers: Metadata) {
        let streamID = self.streamID
        self.onLoop { connection in
            connection.handlerFinished(streamID: streamID, response: response, status: status, trailers: trailers)
        }
    }

    /// Sends one streamed response, waiting while the stream's outbound queue is over its watermark.
    func send(_ message: ByteBuffer) async throws {
        let streamID = self.streamID
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.onLoop { connection in
                connection.handlerSend(streamID: streamID, message: message, continuation: continuation)
            }
        }
    }
}
