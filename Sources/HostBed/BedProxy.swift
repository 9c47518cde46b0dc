import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization

/// A userspace TCP proxy between the bed's namespaces, for the delay and loss that `tc netem` would add (this
/// kernel has no netem): it listens on the bed's gateway address (reachable from every host and the test
/// process), forwards each connection to its target, holds every chunk of bytes for ``delay`` in each direction
/// (order kept), and on command blackholes the path (bytes are dropped, sockets stay open, as on a path that lost
/// every packet) or kills every connection through it. Given several targets it is a TCP load balancer: each new
/// connection goes to the next target in turn (``setTargets(_:)``), as behind one virtual address.
///
/// Made by ``TestBed/proxy(to:delay:)`` (stopped with the bed), or on any local address by
/// ``start(host:targets:delay:)`` (stopped with ``stop()``).
package final class BedProxy: Sendable {
    /// Where the proxy listens: the bed's gateway address and a free port.
    package let endpoint: Endpoint
    /// Where it forwards new connections to (the first target when there are several).
    package var target: Endpoint { self.control.targets.withLock { $0.list[0] } }
    private let listener: any Channel
    private let control: BedProxyControl

    private init(endpoint: Endpoint, listener: any Channel, control: BedProxyControl) {
        self.endpoint = endpoint
        self.listener = listener
        self.control = control
    }

    /// Starts a proxy on `host` (a free port) forwarding to `target` after `delay`.
    static func start(host: String, target: Endpoint, delay: Duration) async throws -> BedProxy {
        try await Self.start(host: host, targets: [target], delay: delay)
    }

    /// Starts a proxy on `host` (a free port) sending each new connection to the next of `targets` in turn.
    package static func start(host: String, targets: [Endpoint], delay: Duration = .zero) async throws -> BedProxy {
        precondition(!targets.isEmpty, "a proxy needs a target")
        let control = BedProxyControl(delay: delay, targets: targets)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BedProxyPump(control: control, connectTo: control.nextTarget()))
                }
            }
            .bind(host: host, port: 0)
            .get()
        let port = listener.localAddress?.port ?? 0
        return BedProxy(endpoint: Endpoint(host: host, port: port), listener: listener, control: control)
    }

    /// Sends new connections to `targets` in turn from now on (the turn goes on from where it was); open
    /// connections keep their target, as behind a load balancer whose pool changed.
    package func setTargets(_ targets: [Endpoint]) {
        precondition(!targets.isEmpty, "a proxy needs a target")
        self.control.targets.withLock { $0.list = targets }
    }

    /// How long each chunk is held in each direction.
    package var delay: Duration {
        get { self.control.delay.withLock { $0 } }
    }

    /// Changes the delay for bytes read from now on (bytes already held keep theirs, and order is kept).
    package func setDelay(_ delay: Duration) {
        self.control.delay.withLock { $0 = delay }
    }

    /// Drops (true) or forwards again (false) every byte in both directions, without closing anything.
    package func setBlackholed(_ blackholed: Bool) {
        self.control.blackholed.store(blackholed, ordering: .relaxed)
    }

    /// Closes every connection through the proxy, both sides at once; returns how many client connections it had.
    @discardableResult
    package func killConnections() -> Int {
        self.control.killAll()
    }

    /// How many client connections are open through the proxy.
    package var connections: Int { self.control.count }

    /// Stops listening and kills every connection.
    package func stop() async {
        try? await self.listener.close()
        _ = self.control.killAll()
    }
}

/// The proxy's switches and the channels a kill closes.
final class BedProxyControl: Sendable {
    let delay: Mutex<Duration>
    let blackholed = Atomic<Bool>(false)
    /// Where new connections go, and whose turn is next.
    let targets: Mutex<(list: [Endpoint], next: Int)>
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    init(delay: Duration, targets: [Endpoint]) {
        self.delay = Mutex(delay)
        self.targets = Mutex((targets, 0))
    }

    /// The target of the connection being accepted: the next in turn.
    func nextTarget() -> Endpoint {
        self.targets.withLock { state in
            defer { state.next += 1 }
            return state.list[state.next % state.list.count]
        }
    }

    /// Tracks `channel` until it closes.
    func register(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.channels.withLock { $0.removeValue(forKey: id) } }
    }

    /// Closes every tracked channel; returns the number of connections (pairs) killed.
    func killAll() -> Int {
        let all = self.channels.withLock { Array($0.values) }
        for channel in all { channel.close(promise: nil) }
        return (all.count + 1) / 2
    }

    var count: Int { (self.channels.withLock { $0.count } + 1) / 2 }
}

/// One direction of one proxied connection: reads its channel and writes to the peer channel after the delay.
/// The client-side pump connects to the target and makes the server-side pump. Both channels share one event
/// loop, to which each pump is confined.
final class BedProxyPump: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private enum Item {
        case bytes(ByteBuffer)
        /// This side closed: close the peer once everything before it went out.
        case close
    }

    /// Held bytes past this size stop reading this side until they drain.
    private static let maximumHeld = 4 << 20

    private let control: BedProxyControl
    private let connectTo: Endpoint?
    private var peer: (any Channel)?
    private var held = CircularBuffer<(due: NIODeadline, item: Item)>()
    private var heldBytes = 0
    private var timer: Scheduled<Void>?

    /// A pump; with `connectTo`, the client side, which connects there when its channel becomes active.
    init(control: BedProxyControl, connectTo: Endpoint?, peer: (any Channel)? = nil) {
        self.control = control
        self.connectTo = connectTo
        self.peer = peer
    }

    func channelActive(context: ChannelHandlerContext) {
        self.control.register(context.channel)
        if let target = self.connectTo {
            let inbound = context.channel
            let control = self.control
            ClientBootstrap(group: context.eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(BedProxyPump(control: control, connectTo: nil, peer: inbound))
                    }
                }
                .connect(host: target.host, port: target.port)
                .assumeIsolated()
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        guard inbound.isActive else {
                            channel.close(promise: nil)
                            return
                        }
                        self.peer = channel
                        self.pump(context: context)
                    case .failure:
                        inbound.close(promise: nil)
                    }
                }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.control.blackholed.load(ordering: .relaxed) else { return }
        let bytes = self.unwrapInboundIn(data)
        self.heldBytes += bytes.readableBytes
        self.hold(.bytes(bytes))
        self.pump(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.hold(.close)
        self.pump(context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Queues `item`, due after the delay and never before the item ahead of it.
    private func hold(_ item: Item) {
        var due = NIODeadline.now() + TimeAmount(self.control.delay.withLock { $0 })
        if let last = self.held.last, last.due > due { due = last.due }
        self.held.append((due, item))
    }

    /// Writes what is due to the peer, sets a timer for the rest, and reads this side only while little is held.
    private func pump(context: ChannelHandlerContext) {
        guard let peer = self.peer else { return }
        let now = NIODeadline.now()
        var wrote = false
        while let first = self.held.first, first.due <= now {
            self.held.removeFirst()
            switch first.item {
            case .bytes(let bytes):
                self.heldBytes -= bytes.readableBytes
                peer.write(bytes, promise: nil)
                wrote = true
            case .close:
                if wrote { peer.flush() }
                peer.close(promise: nil)
                self.held.removeAll()
                return
            }
        }
        if wrote { peer.flush() }
        if let first = self.held.first, self.timer == nil {
            self.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: first.due) {
                self.timer = nil
                self.pump(context: context)
            }
        }
        context.channel.setOption(.autoRead, value: self.heldBytes < Self.maximumHeld).whenComplete { _ in }
    }
}
