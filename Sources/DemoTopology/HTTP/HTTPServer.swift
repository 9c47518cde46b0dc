import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A small HTTP/1.1 server (NIOHTTP1 over `NIOAsyncChannel`) for the front door's API and every service's
/// `/metrics` and `/stats`. One request per connection (`Connection: close`), answered by an async handler.
///
/// A lifecycle `Service`: graceful shutdown (or cancelling ``run()``) closes the listener, lets the requests in
/// progress finish, then returns. A connection that sends no complete request within ``requestTimeout`` is closed.
package final class HTTPServer: Service, Sendable {
    /// Answers one request.
    package typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    /// The host to bind.
    package let host: String
    /// The port to bind (0 picks a free one).
    package let port: Int
    /// How long a connection may take to send its request.
    package let requestTimeout: Duration = .seconds(10)
    private let handler: Handler
    private let listener = Mutex<(any Channel)?>(nil)
    private let shutdownRequested = Mutex(false)
    private let address: EventLoopPromise<SocketAddress>

    /// Creates a server; nothing happens until ``run()``.
    package init(host: String, port: Int, handler: @escaping Handler) {
        self.host = host
        self.port = port
        self.handler = handler
        self.address = MultiThreadedEventLoopGroup.singleton.any().makePromise()
    }

    /// The bound address (with the real port when bound to port 0).
    package var listeningAddress: SocketAddress {
        get async throws { try await self.address.futureResult.get() }
    }

    /// Binds and serves until graceful shutdown or cancellation; returns once every connection has closed.
    package func run() async throws {
        let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: self.host, port: self.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel
                        )
                    }
                }
        } catch {
            self.address.fail(error)
            throw error
        }
        self.listener.withLock { $0 = server.channel }
        if let local = server.channel.localAddress { self.address.succeed(local) }
        if self.shutdownRequested.withLock({ $0 }) { self.beginShutdown() }

        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    try await server.executeThenClose { connections in
                        for try await connection in connections {
                            group.addTask { await self.serve(connection) }
                        }
                    }
                }
            } onCancel: {
                self.beginShutdown()
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
    }

    /// Stops accepting connections; requests in progress finish.
    package func beginShutdown() {
        self.shutdownRequested.withLock { $0 = true }
        self.listener.withLock { $0 }?.close(promise: nil)
    }

    /// Reads one request, answers it, closes the connection. Errors end the connection only.
    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let channel = connection.channel
        let timeout = self.requestTimeout
        await withDiscardingTaskGroup { group in
            // Closes a connection that never completes its request; cancelled once the exchange is done.
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    channel.close(promise: nil)
                } catch {}
            }
            do {
                try await connection.executeThenClose { inbound, outbound in
                    var head: HTTPRequestHead? = nil
                    for try await part in inbound {
                        switch part {
                        case .head(let requestHead):
                            head = requestHead
                        case .body:
                            break  // The demo's endpoints take no body.
                        case .end:
                            // The request is complete: the timeout bounds a slow *client*, not the handler (whose
                            // own budget bounds it), so a loaded machine cannot cut an answer off mid-write.
                            group.cancelAll()
                            guard let head else { return }
                            let response = await self.handler(HTTPRequest(head: head))
                            try await Self.write(response, version: head.version, to: outbound)
                            return
                        }
                    }
                }
            } catch {
                // A client that went away: nothing to answer.
            }
            group.cancelAll()
        }
    }

    private static func write(
        _ response: HTTPResponse,
        version: HTTPVersion,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = response.headers
        let body = ByteBuffer(string: response.body)
        headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
        headers.replaceOrAdd(name: "connection", value: "close")
        try await outbound.write(contentsOf: [
            .head(HTTPResponseHead(version: version, status: response.status, headers: headers)),
            .body(.byteBuffer(body)),
            .end(nil),
        ])
    }
}
