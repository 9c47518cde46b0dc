import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens bare connections below DeadlineRPC's client: TCP only, TCP + a full TLS handshake, or TCP that trickles
/// the start of a ClientHello.
struct RawConnector: Sendable {
    let group: any EventLoopGroup
    let host: String
    let port: Int

    /// Connects, completes a full TLS handshake with `context` (verifying the server's chain and name), closes;
    /// returns how long connect + handshake took.
    func handshake(_ context: NIOSSLContext, serverName: String) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let done = self.group.any().makePromise(of: Void.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: self.group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                        try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(done: done))
                    }
                }
                .connect(host: self.host, port: self.port).get()
        } catch {
            done.fail(error)
            throw error
        }
        do {
            try await done.futureResult.get()
        } catch {
            await Self.reset(channel)
            throw error
        }
        let elapsed = clock.now - start
        await Self.reset(channel)
        return elapsed
    }

    /// Closes `channel` with a reset (SO_LINGER 0): thousands of connections a second would otherwise leave as
    /// many ports in TIME_WAIT and run out of ephemeral ports within a minute.
    static func reset(_ channel: any Channel) async {
        if let options = channel as? any SocketOptionProvider {
            try? await options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close().get()
    }

    /// Connects over TCP only and closes: the floor under a handshake.
    func tcpConnect() async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let channel = try await ClientBootstrap(group: self.group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: self.host, port: self.port).get()
        let elapsed = clock.now - start
        await Self.reset(channel)
        return elapsed
    }

    /// Connects over TCP and sends the start of a TLS ClientHello one byte every `interval` until the server
    /// closes the connection or `stop()` says so; returns whether the server closed it (rather than us).
    func trickle(every interval: Duration, stop: @Sendable () -> Bool) async throws -> Bool {
        let channel = try await ClientBootstrap(group: self.group)
            .connect(host: self.host, port: self.port).get()
        // A handshake record announcing a 512-byte ClientHello: the server must wait for all of it.
        var hello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
        hello += (0..<32).map { _ in UInt8.random(in: 0...255) }
        var index = 0
        while channel.isActive && !stop() {
            let byte = hello[index % hello.count]
            index += 1
            channel.writeAndFlush(ByteBuffer(bytes: [byte]), promise: nil)
            try? await Task.sleep(for: interval)
        }
        let closedByServer = !channel.isActive
        await Self.reset(channel)
        return closedByServer
    }
}

/// Completes `done` when the TLS handshake completes, fails it when the connection errs or closes first.
final class HandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let done: EventLoopPromise<Void>
    private var finished = false

    init(done: EventLoopPromise<Void>) {
        self.done = done
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { self.finish(nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.finish(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.finish(HandshakeClosed())
        context.fireChannelInactive()
    }

    private func finish(_ error: (any Error)?) {
        guard !self.finished else { return }
        self.finished = true
        if let error { self.done.fail(error) } else { self.done.succeed(()) }
    }
}

/// The connection closed before the handshake completed.
struct HandshakeClosed: Error, CustomStringConvertible {
    var description: String { "the connection closed before the TLS handshake completed" }
}
