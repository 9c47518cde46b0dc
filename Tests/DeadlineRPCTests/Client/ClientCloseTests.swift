@testable import DeadlineRPC
import NIOCore
import NIOPosix
import Testing

/// `RPCClient.close()` promises that when it returns nothing of the client is left: no call, and no connection —
/// including one still being opened, whose server has not answered yet.
@Suite("Closing a client", .timeLimit(.minutes(2)))
struct ClientCloseTests {
    /// A TCP listener that accepts and never answers (no settings), reporting each accepted connection and when the
    /// client's side of it closed (end of stream or reset).
    final class SilentListener: Sendable {
        let channel: any Channel
        let accepted: Signal
        let peerClosed: Signal

        /// Fires `peerClosed` once the client closes its end.
        final class Watcher: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            let accepted: Signal
            let peerClosed: Signal
            init(accepted: Signal, peerClosed: Signal) {
                self.accepted = accepted
                self.peerClosed = peerClosed
            }
            func channelActive(context: ChannelHandlerContext) {
                self.accepted.fire()
                context.fireChannelActive()
            }
            func channelInactive(context: ChannelHandlerContext) {
                self.peerClosed.fire()
                context.fireChannelInactive()
            }
        }

        init() async throws {
            let accepted = Signal()
            let peerClosed = Signal()
            self.accepted = accepted
            self.peerClosed = peerClosed
            self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Watcher(accepted: accepted, peerClosed: peerClosed))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        var endpoint: Endpoint { Endpoint(host: "127.0.0.1", port: self.channel.localAddress!.port!) }
    }

    @Test(
        "close() while a connection is still being opened (the server's settings, or its TLS handshake, pending) closes that connection too: the server sees it close, long before the connect timeout",
        arguments: [false, true]
    )
    func closesConnectionStillOpening(tls: Bool) async throws {
        let listener = try await SilentListener()
        var configuration = RPCClient.Configuration()
        configuration.connectTimeout = .seconds(600)
        if tls {
            // The ClientHello goes out and is never answered.
            configuration.transportSecurity = .tls(trustRoots: try TestCA().trustRoots)
        }
        let client = RPCClient(target: .endpoints([listener.endpoint]), configuration: configuration)

        // A call makes the client connect; the server accepts and stays silent, so the call waits for the connection.
        async let call: Echo = client.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .seconds(600)))
        await listener.accepted.wait()

        await client.close()
        let outcome: Result<Echo, any Error>
        do { outcome = .success(try await call) } catch { outcome = .failure(error) }
        guard case .failure(let error as RPCError) = outcome else {
            Issue.record("The waiting call did not fail with an RPCError: \(outcome)")
            return
        }
        #expect(error.code == .unavailable)
        // Before, the attempt lived on after close() until the server's settings or the connect timeout (10 min
        // here); wait(timeout:)'s 30 s only turns that into a failure instead of a hang.
        #expect(await listener.peerClosed.wait(timeout: .seconds(30)))
        #expect(await client.openCalls == 0)
        try await listener.channel.close()
    }
}
