import NIOCore

/// How an in-process client (DeadlineRPCTesting) opens a connection: instead of a TCP connect, the test network
/// pairs a client channel with an in-process server's channel. The client's handler and everything above it are the
/// ones a TCP connection has.
package protocol InProcessConnecting: Sendable {
    /// Opens a connection to `endpoint` on `eventLoop`: calls `initialize` on the new client channel (on its loop,
    /// before it becomes active) and succeeds with that channel once it is active.
    func connect(
        to endpoint: Endpoint,
        on eventLoop: any EventLoop,
        initialize: @escaping @Sendable (any Channel) throws -> Void
    ) -> EventLoopFuture<any Channel>
}
