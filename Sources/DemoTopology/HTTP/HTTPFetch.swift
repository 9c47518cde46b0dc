import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 GET client (NIOHTTP1), used by the scenario runner and the tests to call the front door
/// and scrape `/metrics` and `/stats` over loopback.
package enum HTTPFetch {
    /// An HTTP answer.
    package struct Reply: Sendable {
        /// The status code.
        package var status: Int
        /// The response headers.
        package var headers: HTTPHeaders
        /// The body, as UTF-8 text.
        package var body: String
    }

    /// The exchange took longer than its timeout; the connection was closed.
    package struct Timeout: Error, CustomStringConvertible {
        /// What timed out.
        package var description: String
    }

    /// Sends `GET path` to `endpoint` with `headers` and returns the whole answer, or throws ``Timeout`` after
    /// `timeout`.
    package static func get(
        _ endpoint: ServiceAddress,
        _ path: String,
        headers extra: [(String, String)] = [],
        timeout: Duration = .seconds(30)
    ) async throws -> Reply {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await withThrowingTaskGroup(of: Reply?.self) { group in
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Timeout(description: "GET http://\(endpoint)\(path) got no answer within \(timeout).")
            }
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    var headers = HTTPHeaders([("host", "\(endpoint)"), ("connection", "close")])
                    headers.add(contentsOf: extra)
                    // One write for both parts: a GET's end is complete with its head, so the server may answer and
                    // close before a second write is issued, which would then fail with "I/O on closed channel".
                    try await outbound.write(contentsOf: [
                        .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)), .end(nil),
                    ])
                    var reply = Reply(status: 0, headers: HTTPHeaders(), body: "")
                    var body = ByteBuffer()
                    for try await part in inbound {
                        switch part {
                        case .head(let head):
                            reply.status = Int(head.status.code)
                            reply.headers = head.headers
                        case .body(var bytes):
                            body.writeBuffer(&bytes)
                        case .end:
                            reply.body = String(buffer: body)
                            return reply
                        }
                    }
                    throw Timeout(description: "GET http://\(endpoint)\(path): the connection closed before the answer ended.")
                }
            }
            defer { group.cancelAll() }
            let first: Reply??
            do {
                first = try await group.next()
            } catch {
                // Closed only once the first outcome is known, so a timeout is reported as one rather than as the
                // exchange's "I/O on closed channel".
                channel.channel.close(promise: nil)
                throw error
            }
            guard let reply = first ?? nil else {
                throw Timeout(description: "GET http://\(endpoint)\(path) ended without an answer.")
            }
            return reply
        }
    }
}
