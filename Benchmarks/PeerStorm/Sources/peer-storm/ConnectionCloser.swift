/// Tells the task running a grpc-swift-2 client how the client ends: abruptly (cancel the task running
/// `runConnections()`, which grpc-swift-2 documents as the way to stop in-flight RPCs at once) or gracefully.
final class ConnectionCloser: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    /// Creates an unfired closer.
    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        self.stream = stream
        self.continuation = continuation
    }

    /// Asks for an abrupt close.
    func closeAbruptly() {
        self.continuation.yield()
        self.continuation.finish()
    }

    /// Lets the client end gracefully (after `beginGracefulShutdown()`).
    func release() {
        self.continuation.finish()
    }

    /// Waits for either: true for an abrupt close, false for a graceful one.
    func wait() async -> Bool {
        for await _ in self.stream { return true }
        return false
    }
}
