import Logging
import NIOCore
import ServiceContextModule
import Synchronization
import Wire

/// One server connection: decodes frames, runs the streams' state machines, starts and cancels handler tasks,
/// and writes responses — one handler per connection, no channel or pipeline per call.
///
/// Confined to its channel's event loop. Handler tasks it starts are owned by the connection: it cancels them
/// when their call ends or the connection closes, and ``ServerConnection/run()`` awaits every one of them.
///
/// This file holds the NIO job: channel events, decode pacing and frame dispatch. The rest is by concern:
/// `+Calls` (admission, inbound messages and credit, the call machine's actions), `+Handlers` (slots, spawning
/// the tasks, outcomes, streamed responses), `+Shutdown` (cancel, straggler, release, drain, close), `+Guard` (the
/// abuse budgets), `+Deadlines`, `+QueuedReplies` and `+Writing`. Decisions live in pure types —
/// ``CallStateMachine/Server``, ``CallAdmission``, ``HandlerSlots``, ``ConnectionGuard`` — and the I/O shared with
/// the client in ``FrameReader``, ``ConnectionWriter`` and ``DeadlineTimer``, all stored inline.
///
/// Properties marked `@exclusivity(unchecked)` skip Swift's run-time exclusivity check, which cost about a fifth of
/// an echo call's instructions (a thread-local access-set insert and removal per read or write; see
/// docs/PERFORMANCE.md, issue #19 "Throughput"). Sound because each is read and written only on the event loop, and
/// no access to one spans a call that could reach the same property again: the reader, writer, deadline timer,
/// slots, guard and queues are pure values holding no reference back to this handler (closures they take are
/// escaping ones that run in a later loop job).
final class ServerConnectionHandler: ChannelDuplexHandler, ConnectionFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State: Equatable {
        case awaitingSettings
        case active
        /// Goaway sent: no new streams; closes when the last stream is released or the drain timer fires.
        case draining
        case closed
    }

    let router: Router
    /// The method the last call named, and its entry (``methodEntry(_:)``).
    @exclusivity(unchecked) var lastMethodEntry: (method: String, entry: ServerMethodEntry)?
    let configuration: RPCServer.Configuration
    let metrics: ServerMetrics
    /// Set only for the fuzzing SPI, whose `EmbeddedEventLoop` must run handlers deterministically on the caller's
    /// thread; a real server never runs user code on its I/O loops (see `RPCServer.HandlerExecutor`).
    let taskExecutor: (any TaskExecutor)?
    let callIDs: CallIDGenerator
    /// Set only for an in-process test connection (DeadlineRPCTesting): the loop whose manual clock the handler
    /// tasks' ``Deadline/now()`` reads.
    @exclusivity(unchecked) var manualClock: (any EventLoop)?
    @exclusivity(unchecked) var logger: Logger
    /// The connection's loop, also its clock: every deadline and budget reads `eventLoop.now`, so a loop with a
    /// manual clock (`EmbeddedEventLoop`, in the fuzz target) drives timers and "now" alike.
    let eventLoop: any EventLoop

    @exclusivity(unchecked) var context: ChannelHandlerContext!
    /// The channel's allocator, read once when the handler is added (as the client's handler does): reading it
    /// through the context goes through the pipeline and the channel's locked cache, three times per call.
    @exclusivity(unchecked) var allocator = ByteBufferAllocator()
    /// Decoder, peer settings and the "never opened" rule.
    @exclusivity(unchecked) var reader: FrameReader
    /// Scheduler, compression, flushes; made again with the channel's allocator when the handler joins its
    /// pipeline. Not optional: reading through an optional struct copies it (a retain per reference it holds).
    @exclusivity(unchecked) var writer = ConnectionWriter(allocator: ByteBufferAllocator())
    let compressor = MessageCompressor()
    /// Where messages above the threshold are compressed and inflated (never the fuzzing SPI's embedded loop).
    let offload: CompressionOffload
    /// A received message is being inflated off the loop: no further frame is handled until it is delivered, so
    /// every stream's order holds and the unread bytes wait in the decoder and the socket, as under decode pacing.
    @exclusivity(unchecked) var inboundPaused = false
    @exclusivity(unchecked) var streams: [UInt32: ServerStream] = [:]
    @exclusivity(unchecked) var lastStreamID: UInt32 = 0
    @exclusivity(unchecked) var state: State = .awaitingSettings
    var prefaceTimer: Scheduled<Void>?
    /// Set before the connection starts when the server was already shutting down as it was accepted: the
    /// connection sends its preface, then goaway, and refuses every call.
    var drainOnStart = false
    /// Every open call's deadline and every ended call's straggler check, behind one timer.
    @exclusivity(unchecked) var deadlines: DeadlineTimer<ServerStream>
    var drainTimer: Scheduled<Void>?
    /// When `drainTimer` ends the drain.
    var drainEndsAt: NIODeadline?
    /// Fires at the connection's maximum age (``RPCServer/Configuration/maxConnectionAge``), if one is set.
    var ageTimer: Scheduled<Void>?
    /// The next keepalive check, or the wait for the client's answer to a keepalive ping.
    var keepaliveTimer: Scheduled<Void>?
    /// Whether the client was heard from, and whether a keepalive `PING` waits for its answer.
    @exclusivity(unchecked) var keepaliveProbe = KeepaliveProbe()
    /// A later tick will continue decoding the buffered frames.
    @exclusivity(unchecked) var decodeScheduled = false
    /// A socket read was requested while frames were still waiting; it is issued once they are handled.
    @exclusivity(unchecked) var readHeld = false
    /// Running handlers, winding-down ones, and calls waiting for a slot.
    @exclusivity(unchecked) var slots: HandlerSlots
    /// Which new calls start, and with which deadline.
    let admission: CallAdmission
    @exclusivity(unchecked) var closeReason: CancelReason = .cancelled
    /// The abuse budgets: glitches, resets, pings, control frames for a peer that does not read, idleness.
    @exclusivity(unchecked) var connectionGuard: ConnectionGuard
    /// Checks the idle timeout; armed lazily so calls on a busy connection schedule no timers.
    @exclusivity(unchecked) var idleTimer: Scheduled<Void>?
    /// The client sent `GOAWAY` (§14.2): no call starts any more (after `NO_ERROR` open ones finish).
    @exclusivity(unchecked) var peerSentGoAway = false
    /// Calls that ended `OK` whose reply still waits for credit: open on the wire, so their deadline still applies.
    @exclusivity(unchecked) var queuedReplies = QueuedReplies()
    /// Fires at the earliest deadline among `queuedReplies` (armed only while one waits).
    var queuedReplyTimer: Scheduled<Void>?
    var queuedReplyTimerAt: Int64?
    /// The client's verified TLS identity (mutual TLS), set by ``ServerTLSHandler`` when the handshake completes,
    /// before the first decrypted byte arrives; every call's ``CallContext/peer``.
    var peer: PeerIdentity? {
        didSet {
            if let peer { self.logger[metadataKey: "drpc.peer_identity"] = "\(peer.uris.first ?? peer.dnsNames.first ?? peer.subject)" }
        }
    }
    /// Set while a TLS handshake is under way (``ServerTLSHandler`` clears it): the preface timer then closes the
    /// connection directly, so a trickled ClientHello ends at the same deadline as a trickled preface.
    var tlsHandshakePending = false
    /// Whether any byte has arrived yet (a plaintext server checks the first ones for a TLS ClientHello).
    @exclusivity(unchecked) var receivedBytes = false
    /// The channel closed (or the handler left its pipeline); what follows runs once.
    @exclusivity(unchecked) var closedOnce = false
    /// Completed once the channel is closed and every handler task has returned.
    let handlersDone: EventLoopPromise<Void>
    /// Connection handlers alive in the process (created and not yet deinitialized): a leak probe for tests.
    static let liveInstances = Atomic<Int>(0)

    deinit {
        Self.liveInstances.wrappingSubtract(1, ordering: .relaxed)
    }

    init(
        router: Router,
        configuration: RPCServer.Configuration,
        metrics: ServerMetrics,
        callIDs: CallIDGenerator,
        eventLoop: any EventLoop,
        handlersOnLoop: Bool = false
    ) {
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.callIDs = callIDs
        self.logger = configuration.logger
        self.eventLoop = eventLoop
        self.reader = FrameReader(role: .server, limits: configuration.limits)
        self.deadlines = DeadlineTimer(eventLoop: eventLoop)
        self.handlersDone = eventLoop.makePromise()
        Self.liveInstances.wrappingAdd(1, ordering: .relaxed)
        self.connectionGuard = ConnectionGuard(limits: configuration.connectionLimits, now: Int64(eventLoop.now.uptimeNanoseconds))
        self.slots = HandlerSlots(limit: configuration.maxConcurrentStreams)
        self.admission = CallAdmission(configuration: configuration)
        // Every `HandlerExecutor` case means "off the I/O loops" now, so only the fuzzing SPI picks the loop.
        self.taskExecutor = handlersOnLoop ? EventLoopTaskExecutor(eventLoop: eventLoop) : nil
        self.offload = handlersOnLoop
            ? .never(counters: metrics.counters.compression)
            : CompressionOffload(threshold: configuration.compressionOffloadThreshold, threadPool: .singleton, counters: metrics.counters.compression)
    }

    /// Handlers' outcomes queued from other threads, taken in batches on the loop.
    let handlerOutcomes = LoopInbox<HandlerOutcome>()

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.allocator = context.channel.allocator
        self.writer = ConnectionWriter(allocator: self.allocator)
        if let remote = context.channel.remoteAddress {
            self.logger[metadataKey: "drpc.peer"] = "\(remote)"
        }
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func start(context: ChannelHandlerContext) {
        guard self.prefaceTimer == nil, case .awaitingSettings = self.state else { return }
        self.metrics.counters.connections.add(1, ordering: .sequentiallyConsistent)
        self.metrics.counters.changed()
        var buffer = context.channel.allocator.buffer(capacity: 64)
        FrameEncoder.writePreface(into: &buffer)
        FrameEncoder.write(.settings(self.configuration.settings), into: &buffer)
        context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
        let timeout = self.configuration.prefaceTimeout
        self.prefaceTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { [self] in
            guard case .awaitingSettings = self.state else { return }
            if self.tlsHandshakePending {
                // Nothing can be written mid-handshake (a GOAWAY would wait in the TLS handler): close at once.
                self.logger.info(
                    "TLS handshake refused: the client did not complete the TLS handshake within \(timeout) (the preface timeout)",
                    metadata: ["drpc.tls_failure": "handshake_timeout"]
                )
                self.metrics.tlsHandshakeFailed(cause: "handshake_timeout")
                self.state = .closed
                context.close(promise: nil)
                return
            }
            self.connectionError(WireError(.timeout, "The client did not send its preface and settings within \(timeout)."))
        }
        if let age = self.configuration.maxConnectionAge {
            self.ageTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Self.jittered(age).nanoseconds)) { [self] in
                self.beginDraining(
                    goAway: "The connection reached its maximum age; open a new one for further calls.",
                    grace: self.configuration.maxConnectionAgeGrace,
                    abort: "The connection reached its maximum age, and the call outlasted the grace period.",
                    reason: .shuttingDown
                )
            }
        }
        if let keepalive = self.configuration.keepalive { self.scheduleKeepaliveCheck(keepalive) }
        if self.drainOnStart { self.beginGracefulShutdown() }
    }

    /// `age` moved by up to ±10 %, never below zero nor past the largest duration: a fleet's connections opened
    /// together spread their ends.
    static func jittered(_ age: Duration) -> Duration {
        let nanoseconds = max(Int64(0), age.nanoseconds)
        let spread = nanoseconds / 10
        guard spread > 0 else { return .nanoseconds(nanoseconds) }
        let (moved, overflow) = nanoseconds.addingReportingOverflow(Int64.random(in: -spread...spread))
        return .nanoseconds(overflow ? .max : moved)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .closed = self.state else {
            let bytes = self.unwrapInboundIn(data)
            self.keepaliveProbe.heardFromPeer()
            if !self.receivedBytes {
                self.receivedBytes = true
                self.noticeTLSOnPlaintextPort(bytes)
            }
            self.reader.append(bytes)
            // While a backlog is being worked off in later ticks, new bytes just join it.
            if !self.decodeScheduled { self.decodeFrames() }
            return
        }
    }

    /// Holds the next socket read while decoded-but-unhandled frames remain, so a flooding peer's bytes wait in
    /// its own socket buffer rather than in our memory or our event loop's time.
    func read(context: ChannelHandlerContext) {
        if self.decodeScheduled || self.inboundPaused {
            self.readHeld = true
            return
        }
        context.read()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushNow()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.writer.scheduler.writable = context.channel.isWritable
        if context.channel.isWritable { self.connectionGuard.peerIsReading() }
        if context.channel.isWritable { self.flushNow() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("Connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionClosed()
    }

    /// A TLS handshake record (0x16 0x03 …) where the preface belongs: a TLS client on a plaintext port. The preface
    /// check still closes the connection; this names the cause in the log and counts it.
    func noticeTLSOnPlaintextPort(_ bytes: ByteBuffer) {
        guard !self.configuration.transportSecurity.usesTLS, case .awaitingSettings = self.state,
            let head = bytes.getBytes(at: bytes.readerIndex, length: min(2, bytes.readableBytes)),
            head.first == 0x16, head.count < 2 || head[1] == 0x03
        else { return }
        self.logger.info("TLS handshake refused: the client speaks TLS on a plaintext port", metadata: ["drpc.tls_failure": "tls_on_plaintext_port"])
        self.metrics.tlsHandshakeFailed(cause: "tls_on_plaintext_port")
    }
}
