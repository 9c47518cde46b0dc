import Wire
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// A DeadlineRPC server: listens on TCP, serves the methods of a ``Router``, enforces every call's deadline on its
/// own clock, and cancels a handler's task the moment its call is cancelled or expires.
///
/// ```swift
/// var router = Router()
/// router.unary(greet) { request, _ in Greeting(text: "Hello, \(request.text)") }
/// let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await server.run() }
///     let address = try await server.listeningAddress
///     // … serve until done …
///     server.beginGracefulShutdown()
/// }
/// ```
/// The server is a swift-service-lifecycle `Service`: in a `ServiceGroup`, SIGTERM drains it gracefully.
/// Each connection and each handler task is owned by ``run()``: when it returns, none is left running.
public final class RPCServer: Service, Sendable {
    private enum State {
        case idle
        case starting
        case listening(ServerListener, [ObjectIdentifier: NIOLoopBound<ServerConnectionHandler>])
        case stopping
        case stopped
    }

    /// The host to bind.
    public let host: String
    /// The port to bind; 0 picks a free one (read it from ``listeningAddress``).
    public let port: Int
    /// The behaviour and limits.
    public let configuration: Configuration
    /// Takes in-process connections instead of a socket's once enabled (DeadlineRPCTesting's
    /// ``init(inProcessName:router:configuration:eventLoopGroup:)``); unused otherwise.
    private let inProcess = InProcessListener()
    private let router: Router
    private let group: any EventLoopGroup
    let metrics: ServerMetrics
    private let callIDs = CallIDGenerator()
    private let state = Mutex<State>(.idle)
    /// Connections accepted and not yet taken into ``run()``'s task group. When run() is cancelled its accept loop
    /// stops at once, and NIO drops the connections it had buffered for the loop; run() takes those from here, so
    /// that each is closed and awaited like the others. Sealed once run() stops taking connections: a connection
    /// accepted after that is refused (closed).
    private let unclaimed = Mutex<(connections: [ObjectIdentifier: ServerConnection], sealed: Bool)>(([:], false))
    private let address: EventLoopPromise<SocketAddress>
    /// The TLS material of new connections, reloadable; nil for plaintext.
    private let tls: TLSReloader?

    /// Creates a server; nothing happens until ``run()``.
    public init(
        host: String,
        port: Int,
        router: Router,
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        let metrics = ServerMetrics(prefix: configuration.metricsPrefix, factory: configuration.metricsFactory)
        self.router = router.with(
            HandlerEnvironment(interceptors: configuration.interceptors, instrument: configuration.instrument, propagatedKeys: configuration.propagatedKeys),
            metrics: metrics
        )
        self.configuration = configuration
        self.group = eventLoopGroup
        self.metrics = metrics
        self.address = eventLoopGroup.any().makePromise()
        self.tls = configuration.transportSecurity.usesTLS
            ? TLSReloader(.server(configuration.transportSecurity), recorder: metrics, logger: configuration.logger)
            : nil
    }

    /// The address the server listens on, once bound (with the real port when bound to port 0).
    public var listeningAddress: SocketAddress {
        get async throws { try await self.address.futureResult.get() }
    }

    /// Live counters: in-flight handlers, stragglers, shed calls, connections.
    public var stats: ServerStats { self.metrics.counters.snapshot }

    /// Reads the certificate chain, private key and client trust roots again from their files; when they are sound
    /// (they parse, the key belongs to the leaf, every certificate of the chain is within its validity), new
    /// connections use them, while open connections keep theirs. Also runs on ``ServerTransportSecurity/reloadInterval``.
    /// - Throws: ``TLSReloadError`` naming the cause and file when the material is not sound (the current material
    ///   stays; also logged and counted in ``ServerStats/tlsReloads``); `failedPrecondition` without TLS.
    public func reloadTLS() async throws {
        guard let tls = self.tls else {
            throw RPCError(code: .failedPrecondition, message: "This server has no TLS settings to reload (its transportSecurity is plaintext).")
        }
        try await tls.reload()
    }

    /// Binds and serves until ``beginGracefulShutdown()`` completes, the task is cancelled, or graceful shutdown is
    /// triggered by a service group. Returns only when every connection and handler task has finished.
    public func run() async throws {
        try self.state.withLock { state in
            guard case .idle = state else {
                throw RPCError(code: .failedPrecondition, message: "RPCServer.run() may be called only once.")
            }
            state = .starting
        }
        if self.inProcess.isEnabled {
            return try await self.serveInProcess()
        }
        let listener: NIOAsyncChannel<ServerConnection, Never>
        do {
            // Read on the thread pool: certificate files are never read on an event loop.
            _ = try await self.tls?.loadInitial()
            listener = try await ServerBootstrap(group: self.group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { [logger = self.configuration.logger] channel in
                    // Without it, an exhausted descriptor table makes the accept loop spin (AcceptPauseHandler).
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AcceptPauseHandler(logger: logger))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 128 * 1024))
                .bind(host: self.host, port: self.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = ServerConnectionHandler(
                            router: self.router,
                            configuration: self.configuration,
                            metrics: self.metrics,
                            callIDs: self.callIDs,
                            eventLoop: channel.eventLoop
                        )
                        // The material current now: a reload replaces it for later connections only.
                        if let reloader = self.tls {
                            guard let tlsContext = reloader.context else {
                                throw RPCError(code: .internal, message: "The server's TLS material was not loaded.")  // Loaded above, before binding.
                            }
                            handler.tlsHandshakePending = true
                            let tls = ServerTLSHandler(connection: handler, metrics: self.metrics, logger: self.configuration.logger)
                            let ssl = try ObservingSSLHandlers.maker.server(context: tlsContext, notes: tls.notes)
                            try channel.pipeline.syncOperations.addHandlers(ssl, tls)
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                        let connection = ServerConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                        guard self.adopt(connection) else {
                            throw RPCError(code: .unavailable, message: "The server has stopped taking connections.")
                        }
                        // Registered here, before the connection's first read: a connection the kernel accepted after
                        // shutdown began (closing the listener is asynchronous) drains from its first frame instead of
                        // serving calls until a later drain request reaches its loop.
                        if !self.register(connection) { handler.drainOnStart = true }
                        return connection
                    }
                }
        } catch {
            self.state.withLock { $0 = .stopped }
            self.address.fail(error)
            throw error
        }
        let shutdownEarly = self.state.withLock { state -> Bool in
            if case .stopping = state { return true }
            state = .listening(.tcp(listener.channel), [:])
            return false
        }
        if let local = listener.channel.localAddress { self.address.succeed(local) }
        if shutdownEarly { listener.channel.close(promise: nil) }

        // The reload timer is a child of this group: it runs while the server serves, and is cancelled and awaited
        // before run() returns. Only run() ends it; a failed reload does not.
        try await withThrowingDiscardingTaskGroup { timers in
            if let tls = self.tls, tls.interval != nil {
                timers.addTask { await tls.reloadPeriodically() }
            }
            defer { timers.cancelAll() }
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await withThrowingDiscardingTaskGroup { group in
                        let accepting: Result<Void, any Error>
                        do {
                            try await listener.executeThenClose { connections in
                                for try await connection in connections {
                                    self.claim(connection)
                                    group.addTask {
                                        await connection.run()
                                        self.unregister(connection)
                                    }
                                }
                            }
                            accepting = .success(())
                        } catch {
                            accepting = .failure(error)
                        }
                        // Accepted, but dropped by the loop's sequence when run() was cancelled (or still in flight).
                        for connection in self.takeUnclaimed() {
                            group.addTask {
                                await connection.run()
                                self.unregister(connection)
                            }
                        }
                        try accepting.get()
                    }
                } onCancel: {
                    self.closeListener()
                }
            } onGracefulShutdown: {
                self.beginGracefulShutdown()
            }
        }
        self.state.withLock { $0 = .stopped }
    }

    /// Stops accepting connections, turns the router's health services `NOT_SERVING` (their watchers are sent that
    /// first, see ``Configuration/healthAnnouncementTimeout``), sends goaway on every connection, lets in-flight calls
    /// finish (within their deadlines and the drain timeout), then closes; ``run()`` returns once all is done.
    public func beginGracefulShutdown() {
        let connections: [NIOLoopBound<ServerConnectionHandler>] = self.state.withLock { state in
            switch state {
            case .listening(let listener, let connections):
                listener.close()
                state = .stopping
                return Array(connections.values)
            case .idle, .starting:
                state = .stopping
                return []
            case .stopping, .stopped:
                return []
            }
        }
        HealthShutdownAnnouncement.start(
            self.router.healthServices,
            timeout: self.configuration.healthAnnouncementTimeout,
            on: self.group.any()
        ) {
            for connection in connections {
                connection.eventLoop.execute { connection.value.beginGracefulShutdown() }
            }
        }
    }

    private func closeListener() {
        self.state.withLock { state in
            if case .listening(let listener, _) = state { listener.close() }
        }
    }

    // MARK: In process (DeadlineRPCTesting)

    /// An in-process server (DeadlineRPCTesting): ``run()`` binds no socket and serves the channels handed to
    /// ``acceptInProcess(_:)``, on `eventLoopGroup` (whose clock its deadlines read).
    package convenience init(
        inProcessName name: String,
        router: Router,
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup
    ) {
        self.init(host: name, port: 0, router: router, configuration: configuration, eventLoopGroup: eventLoopGroup)
        self.inProcess.enable()
    }

    /// Suspends until the counters satisfy `condition` (woken at each change of a counter, no polling) and returns
    /// that reading; nil when the waiting task is cancelled (DeadlineRPCTesting's leak check).
    package func waitForStats(until condition: @escaping @Sendable (ServerStats) -> Bool) async -> ServerStats? {
        await self.metrics.counters.wait(until: condition)
    }

    /// An in-process server's ``run()``: no socket; the same connections, drain and shutdown.
    private func serveInProcess() async throws {
        let shutdownEarly = self.state.withLock { state -> Bool in
            if case .stopping = state { return true }
            state = .listening(.inProcess(self.inProcess), [:])
            return false
        }
        // An address for ``listeningAddress`` readers; no socket is bound at it.
        self.address.succeed(try SocketAddress(unixDomainSocketPath: "/in-process"))
        if shutdownEarly { self.inProcess.close() }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    for await connection in self.inProcess.connections {
                        self.claim(connection)
                        group.addTask {
                            await connection.run()
                            self.unregister(connection)
                        }
                    }
                    // Accepted, but left in the stream when run() was cancelled.
                    for connection in self.takeUnclaimed() {
                        group.addTask {
                            await connection.run()
                            self.unregister(connection)
                        }
                    }
                }
            } onCancel: {
                self.closeListener()
            }
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
        self.state.withLock { $0 = .stopped }
    }

    /// Serves `channel` (an in-process connection's server end, on its loop, not yet active) as an accepted
    /// connection, with the handler a TCP connection gets (no TLS); its handler tasks read `channel`'s loop clock
    /// (``ManualClock``). Throws when the server does not serve in process or no longer accepts (the caller closes
    /// the channel).
    package func acceptInProcess(_ channel: any Channel) throws {
        channel.eventLoop.assertInEventLoop()
        guard self.inProcess.isEnabled else {
            throw RPCError(code: .failedPrecondition, message: "\(self.host) is not an in-process server.")
        }
        guard case .listening = self.state.withLock({ $0 }) else {
            throw RPCError(code: .unavailable, message: "The in-process server \(self.host) is not accepting connections.")
        }
        let handler = ServerConnectionHandler(
            router: self.router,
            configuration: self.configuration,
            metrics: self.metrics,
            callIDs: self.callIDs,
            eventLoop: channel.eventLoop
        )
        handler.manualClock = channel.eventLoop
        try channel.pipeline.syncOperations.addHandler(handler)
        let connection = ServerConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
        guard self.adopt(connection) else {
            throw RPCError(code: .unavailable, message: "The in-process server \(self.host) stopped accepting connections.")
        }
        if !self.register(connection) { handler.drainOnStart = true }
        guard self.inProcess.accept(connection) else {
            throw RPCError(code: .unavailable, message: "The in-process server \(self.host) stopped accepting connections.")
        }
    }

    /// Records an accepted connection as run()'s until its task group takes it; false once run() takes no more.
    private func adopt(_ connection: ServerConnection) -> Bool {
        self.unclaimed.withLock { unclaimed in
            guard !unclaimed.sealed else { return false }
            unclaimed.connections[connection.id] = connection
            return true
        }
    }

    /// The accept loop took `connection` into run()'s task group.
    private func claim(_ connection: ServerConnection) {
        _ = self.unclaimed.withLock { $0.connections.removeValue(forKey: connection.id) }
    }

    /// The connections accepted and never taken by the accept loop; no connection is adopted after this.
    private func takeUnclaimed() -> [ServerConnection] {
        self.unclaimed.withLock { unclaimed in
            unclaimed.sealed = true
            defer { unclaimed.connections = [:] }
            return Array(unclaimed.connections.values)
        }
    }

    /// Adds an accepted connection to those a graceful shutdown drains; false when shutdown has already begun.
    private func register(_ connection: ServerConnection) -> Bool {
        self.state.withLock { state -> Bool in
            guard case .listening(let listener, var connections) = state else { return false }
            connections[connection.id] = connection.handler
            state = .listening(listener, connections)
            return true
        }
    }

    private func unregister(_ connection: ServerConnection) {
        self.state.withLock { state in
            guard case .listening(let listener, var connections) = state else { return }
            connections.removeValue(forKey: connection.id)
            state = .listening(listener, connections)
        }
    }
}

/// One accepted connection, as seen by the server's task group.
struct ServerConnection: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<ServerConnectionHandler>

    var id: ObjectIdentifier { ObjectIdentifier(self.channel) }

    /// Waits until the connection has closed and every handler task it started has returned. If the waiting
    /// task is cancelled (the server is stopping hard), the connection is closed, which cancels its handlers.
    func run() async {
        let channel = self.channel
        let handlersDone = self.handler.eventLoop.flatSubmit { self.handler.value.handlersDone.futureResult }
        await withTaskCancellationHandler {
            _ = try? await channel.closeFuture.get()
            _ = try? await handlersDone.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}
