import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP proxy the soak and fault tests control: it forwards bytes between a client and the server, and
/// on command kills every connection through it at once (both sides see EOF wherever they are in a frame) or
/// blackholes them (stops forwarding but keeps the sockets open, like a half-open TCP path). Started holding replies,
/// it reads nothing from the server until ``releaseReplies()`` (the bytes wait in the kernel): a server whose
/// handshake is slow.
final class FaultProxy: Sendable {
    /// The listener's channel.
    private let listener: any Channel
    /// The proxy's shared switches and live connections.
    let state: FaultProxyState

    private init(listener: any Channel, state: FaultProxyState) {
        self.listener = listener
        self.state = state
    }

    /// The port clients connect to.
    var port: Int { self.listener.localAddress!.port! }

    /// Starts a proxy on 127.0.0.1 forwarding to 127.0.0.1:`targetPort`; `holdingReplies` keeps the server's bytes
    /// back until ``releaseReplies()``.
    static func start(targetPort: Int, holdingReplies: Bool = false) async throws -> FaultProxy {
        let state = FaultProxyState(holdingReplies: holdingReplies)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxyInbound(state: state, targetPort: targetPort))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return FaultProxy(listener: listener, state: state)
    }

    /// Closes every proxied connection (both sides); returns how many pairs were killed.
    @discardableResult
    func killAll() -> Int { self.state.killAll() }

    /// Starts forwarding what the server sent (and sends) on every connection, if the proxy was holding it.
    func releaseReplies() { self.state.releaseReplies() }

    /// Stops (or resumes) forwarding bytes in both directions without closing anything.
    func setBlackholed(_ blackholed: Bool) { self.state.blackholed.store(blackholed, ordering: .relaxed) }

    /// Stops listening and kills every connection.
    func stop() async {
        try? await self.listener.close()
        _ = self.state.killAll()
    }
}

/// The proxy's switches and the channels it may kill.
final class FaultProxyState: Sendable {
    /// Whether bytes are dropped instead of forwarded.
    let blackholed = Atomic<Bool>(false)
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// While holding: the server-facing channels, not reading, that ``releaseReplies()`` starts.
    private let held: Mutex<[any Channel]?>

    init(holdingReplies: Bool = false) {
        self.held = Mutex(holdingReplies ? [] : nil)
    }

    /// Whether the server's bytes are still held back.
    var isHolding: Bool { self.held.withLock { $0 != nil } }

    /// A server-facing channel made with reading off while holding: kept until the release, or started now.
    func connectedToServer(_ channel: any Channel) {
        let holding = self.held.withLock { held -> Bool in
            guard held != nil else { return false }
            held!.append(channel)
            return true
        }
        if !holding { channel.setOption(.autoRead, value: true).whenComplete { _ in } }
    }

    /// Stops holding: every held server-facing channel reads again.
    func releaseReplies() {
        let channels = self.held.withLock { held -> [any Channel] in
            defer { held = nil }
            return held ?? []
        }
        for channel in channels { channel.setOption(.autoRead, value: true).whenComplete { _ in } }
    }

    /// Tracks a channel until it closes.
    func register(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.channels.withLock { $0.removeValue(forKey: id) } }
    }

    /// Closes every tracked channel; returns the number of client-side connections killed.
    func killAll() -> Int {
        let all = self.channels.withLock { Array($0.values) }
        for channel in all { channel.close(promise: nil) }
        return all.count / 2
    }
}

/// The client-facing side of one proxied connection: connects to the target and forwards both ways.
/// Confined to its channel's event loop (the outbound channel shares it).
private final class ProxyInbound: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let state: FaultProxyState
    private let targetPort: Int
    private var outbound: (any Channel)?
    private var pending: [ByteBuffer] = []

    init(state: FaultProxyState, targetPort: Int) {
        self.state = state
        self.targetPort = targetPort
    }

    func channelActive(context: ChannelHandlerContext) {
        let inbound = context.channel
        let state = self.state
        self.state.register(inbound)
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: !state.isHolding)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxyOutbound(peer: inbound, state: state))
                }
            }
            .connect(host: "127.0.0.1", port: self.targetPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    state.register(channel)
                    guard inbound.isActive else {
                        channel.close(promise: nil)
                        return
                    }
                    self.outbound = channel
                    state.connectedToServer(channel)
                    for bytes in self.pending { channel.write(bytes, promise: nil) }
                    channel.flush()
                    self.pending = []
                case .failure:
                    inbound.close(promise: nil)
                }
            }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.state.blackholed.load(ordering: .relaxed) else { return }
        let bytes = self.unwrapInboundIn(data)
        if let outbound = self.outbound {
            outbound.writeAndFlush(bytes, promise: nil)
        } else {
            self.pending.append(bytes)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.outbound?.close(promise: nil)
        context.fireChannelInactive()
    }

    /// Backpressure: while the client side cannot take more, stop reading the server side.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.outbound?.setOption(.autoRead, value: context.channel.isWritable && !self.state.isHolding).whenComplete { _ in }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The server-facing side of one proxied connection: forwards to the client side.
private final class ProxyOutbound: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let peer: any Channel
    private let state: FaultProxyState

    init(peer: any Channel, state: FaultProxyState) {
        self.peer = peer
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.state.blackholed.load(ordering: .relaxed) else { return }
        self.peer.writeAndFlush(self.unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.peer.close(promise: nil)
        context.fireChannelInactive()
    }

    /// Backpressure: while the server side cannot take more, stop reading the client side.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.peer.setOption(.autoRead, value: context.channel.isWritable).whenComplete { _ in }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
