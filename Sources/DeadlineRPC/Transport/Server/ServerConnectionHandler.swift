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
final class ServerConnectionHandler: ChannelDuplexHandler {
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

    private let router: Router
    private let configuration: RPCServer.Configuration
    private let metrics: ServerMetrics
    /// Set only for the fuzzing SPI, whose `EmbeddedEventLoop` must run handlers deterministically on the caller's
    /// thread; a real server never runs user code on its I/O loops (see `RPCServer.HandlerExecutor`).
    private let taskExecutor: (any TaskExecutor)?
    private let callIDs: CallIDGenerator
    private var logger: Logger
    /// The connection's loop, also its clock: every deadline and budget reads `eventLoop.now`, so a loop with a
    /// manual clock (`EmbeddedEventLoop`, in the fuzz target) drives timers and "now" alike.
    private let eventLoop: any EventLoop

    private var context: ChannelHandlerContext!
    private var decoder: FrameDecoder
    private var scheduler: OutboundScheduler!
    private let compressor = MessageCompressor()
    private var streams: [UInt32: ServerStream] = [:]
    private var lastStreamID: UInt32 = 0
    private var peerSettings = Settings.default
    private(set) var state: State = .awaitingSettings
    private var prefaceTimer: Scheduled<Void>?
    /// Set before the connection starts when the server was already shutting down as it was accepted: the
    /// connection sends its preface, then goaway, and refuses every call.
    var drainOnStart = false
    /// Every open call's deadline and every ended call's straggler check, behind one timer.
    private var deadlines = DeadlineQueue<ServerStream>()
    private var deadlineTimer: Scheduled<Void>?
    private var drainTimer: Scheduled<Void>?
    private var flushScheduled = false
    /// A later tick will continue decoding the buffered frames.
    private var decodeScheduled = false
    /// A socket read was requested while frames were still waiting; it is issued once they are handled.
    private var readHeld = false
    private var runningHandlers = 0
    /// Streams whose call ended while their handler still runs (cancelled, winding down): they hold a handler
    /// slot but not a stream slot, since the client already counts them closed.
    private var windingDown = 0
    /// Streams whose handler waits for a slot, oldest first (ids of streams that ended meanwhile are skipped).
    private var awaitingSlot = CircularBuffer<UInt32>()
    private var closeReason: CancelReason = .cancelled
    /// Junk the peer may still send: unknown frames, undefined flags, empty frames, stream errors it caused.
    private var glitches: GlitchBudget
    /// Cancels of open calls the peer may still send, when a reset budget is configured (off by default).
    private var resets: GlitchBudget?
    /// Strikes of the ping policy.
    private var pingPolicy: PingPolicy
    /// Frames the decoder ignored that were already charged to the glitch budget.
    private var ignoredFramesCharged = 0
    /// Control frames written while the channel was not writable, i.e. piling up for a peer that does not read.
    private var controlFramesWhileBlocked = 0
    /// When the connection last became idle (no call open, no handler running), in uptime nanoseconds.
    private var idleSince: Int64?
    /// Checks the idle timeout; armed lazily so calls on a busy connection schedule no timers.
    private var idleTimer: Scheduled<Void>?
    /// The client sent `GOAWAY` (§14.2): no call starts any more (after `NO_ERROR` open ones finish).
    private var peerSentGoAway = false
    /// Calls that ended `OK` whose reply still waits for credit: open on the wire, so their deadline still applies.
    private var queuedReplies = QueuedReplies()
    /// Fires at the earliest deadline among `queuedReplies` (armed only while one waits).
    private var queuedReplyTimer: Scheduled<Void>?
    private var queuedReplyTimerAt: Int64?
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
        self.decoder = FrameDecoder(limits: configuration.limits, expectPreface: true)
        self.handlersDone = eventLoop.makePromise()
        Self.liveInstances.wrappingAdd(1, ordering: .relaxed)
        let now = Int64(eventLoop.now.uptimeNanoseconds)
        let limits = configuration.connectionLimits
        self.glitches = GlitchBudget(capacity: limits.glitchBudget, refillPerSecond: limits.glitchRefillPerSecond, now: now)
        self.resets = limits.resetBudget.map { GlitchBudget(capacity: $0.burst, refillPerSecond: $0.refillPerSecond, now: now) }
        self.pingPolicy = PingPolicy(minimumInterval: limits.pingMinimumInterval.nanoseconds, toleratedStrikes: limits.pingStrikesTolerated)
        // Every `HandlerExecutor` case means "off the I/O loops" now, so only the fuzzing SPI picks the loop.
        self.taskExecutor = handlersOnLoop ? EventLoopTaskExecutor(eventLoop: eventLoop) : nil
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.scheduler = OutboundScheduler(
            allocator: context.channel.allocator,
            maxFrameSize: Int(Settings.default.maxFrameSize),
            initialCredit: Int(Settings.default.initialStreamCredit)
        )
        if let remote = context.channel.remoteAddress {
            self.logger[metadataKey: "drpc.peer"] = "\(remote)"
        }
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard self.prefaceTimer == nil, case .awaitingSettings = self.state else { return }
        self.metrics.counters.connections.add(1, ordering: .relaxed)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        FrameEncoder.writePreface(into: &buffer)
        FrameEncoder.write(.settings(self.configuration.settings), into: &buffer)
        context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
        let timeout = self.configuration.prefaceTimeout
        self.prefaceTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { [self] in
            if case .awaitingSettings = self.state {
                self.connectionError(WireError(.timeout, "The client did not send its preface and settings within \(timeout)."))
            }
        }
        if self.drainOnStart { self.beginGracefulShutdown() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .closed = self.state else {
            self.decoder.append(self.unwrapInboundIn(data))
            // While a backlog is being worked off in later ticks, new bytes just join it.
            if !self.decodeScheduled { self.decodeFrames() }
            return
        }
    }

    /// Holds the next socket read while decoded-but-unhandled frames remain, so a flooding peer's bytes wait in
    /// its own socket buffer rather than in our memory or our event loop's time.
    func read(context: ChannelHandlerContext) {
        if self.decodeScheduled {
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
        self.scheduler.writable = context.channel.isWritable
        if context.channel.isWritable { self.controlFramesWhileBlocked = 0 }
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

    // MARK: Decoding

    /// Handles buffered frames, at most ``framesPerTick`` per loop job: a peer that pipelines thousands of frames
    /// (a rapid-reset or ping flood) gets one slice, then the jobs already queued on the loop (other connections'
    /// handler outcomes, writes, timers) run before its next slice. Its socket is not read until its backlog is
    /// handled, so the backlog is at most one read's worth of bytes; NIO runs every ready job before it polls
    /// again, so other connections' new bytes wait for at most that one read's frames.
    private func decodeFrames() {
        var budget = Self.framesPerTick
        do {
            while self.state != .closed {
                guard budget > 0 else {
                    self.scheduleDecode()
                    return
                }
                let decoded = try self.decoder.nextFrame()
                guard self.chargeIgnoredFrames(), let decoded else { break }
                budget -= 1
                self.handle(decoded)
            }
        } catch {
            self.connectionError(error)
        }
        if self.readHeld, let context = self.context, self.state != .closed {
            self.readHeld = false
            context.read()
        }
    }

    /// Frames handled per event-loop tick before yielding the loop.
    static let framesPerTick = 256

    /// Continues decoding in a later tick.
    private func scheduleDecode() {
        guard !self.decodeScheduled, let context = self.context else { return }
        self.decodeScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            self.decodeScheduled = false
            self.decodeFrames()
            self.flushNow()
        }
    }

    // MARK: Abuse budgets

    /// Now, in uptime nanoseconds on the loop's clock: the time base of the budgets.
    private func uptimeNow() -> Int64 { Int64(self.eventLoop.now.uptimeNanoseconds) }

    /// Charges one glitch for each frame the decoder skipped (unknown type) or found with undefined flags; false
    /// once the budget is spent and the connection is ending.
    private func chargeIgnoredFrames() -> Bool {
        while self.ignoredFramesCharged < self.decoder.ignoredFrameCount {
            self.ignoredFramesCharged += 1
            guard self.glitch("frames of unknown type or with undefined flags") else { return false }
        }
        return true
    }

    /// Charges one glitch; when the budget is spent, ends the connection with `ENHANCE_YOUR_CALM` and returns false.
    @discardableResult
    private func glitch(_ what: String) -> Bool {
        guard self.state != .closed else { return false }
        if self.glitches.spend(now: self.uptimeNow()) { return true }
        let limits = self.configuration.connectionLimits
        self.connectionError(WireError(.enhanceYourCalm, "The peer spent its glitch budget (\(limits.glitchBudget) at once, \(limits.glitchRefillPerSecond) per second), last on \(what)."))
        return false
    }

    /// Queues a control frame. While the peer does not read (the channel is not writable) at most
    /// `maxQueuedControlFrames` may pile up; one more ends the connection with `ENHANCE_YOUR_CALM`.
    private func writeControl(_ frame: Frame) {
        self.scheduler.writeControl(frame)
        guard let context = self.context, !context.channel.isWritable else { return }
        self.controlFramesWhileBlocked += 1
        let cap = self.configuration.connectionLimits.maxQueuedControlFrames
        if self.controlFramesWhileBlocked > cap {
            self.connectionError(WireError(.enhanceYourCalm, "More than \(cap) control frames are queued for a peer that does not read what it is sent."))
        }
    }

    /// The connection has no call open and no handler running: remember since when, and make sure a timer will
    /// check the idle timeout.
    private func noteIdle() {
        guard let timeout = self.configuration.connectionLimits.idleTimeout, case .active = self.state,
            self.streams.isEmpty, self.runningHandlers == 0, self.idleSince == nil
        else { return }
        self.idleSince = self.uptimeNow()
        if self.idleTimer == nil { self.scheduleIdleCheck(in: timeout.nanoseconds) }
    }

    /// Checks the idle timeout after `delay` nanoseconds; a connection that was busy in between is checked again
    /// when it next becomes idle.
    private func scheduleIdleCheck(in delay: Int64) {
        guard let context = self.context, let timeout = self.configuration.connectionLimits.idleTimeout else { return }
        self.idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay)) { [self] in
            self.idleTimer = nil
            guard case .active = self.state, let since = self.idleSince else { return }
            let idleFor = self.uptimeNow() - since
            if idleFor >= timeout.nanoseconds {
                self.connectionError(WireError(.timeout, "The connection had no call open for \(timeout), the idle timeout."))
            } else {
                self.scheduleIdleCheck(in: timeout.nanoseconds - idleFor)
            }
        }
    }

    private func handle(_ decoded: DecodedFrame) {
        switch decoded {
        case .frame(let frame):
            self.handle(frame)
        case .streamError(let streamID, let type, let error):
            self.handleStreamError(streamID: streamID, type: type, error: error)
        }
    }

    private func handle(_ frame: Frame) {
        switch frame {
        case .settings(let settings):
            self.peerSettings = settings
            self.scheduler.maxFrameSize = Int(settings.maxFrameSize)
            self.scheduler.initialCredit = Int(settings.initialStreamCredit)
            self.prefaceTimer?.cancel()
            self.prefaceTimer = nil
            if case .awaitingSettings = self.state { self.state = .active }
            self.noteIdle()
        case .callStart(let start):
            self.handleCallStart(start)
        case .message(let message):
            self.handleMessage(message)
        case .halfClose(let streamID):
            guard let stream = self.openStream(streamID, type: .halfClose) else { return }
            if stream.machine.hasEnded { return self.lateFrameDropped() }  // State before fragment rules (§13.4).
            if stream.inbound.isAssembling {
                self.connectionError(WireError(.protocolViolation, "Stream \(streamID) half-closed in the middle of a message."))
                return
            }
            self.perform(stream.machine.receiveHalfClose(), on: stream)
        case .cancel(let streamID, let reason):
            guard let stream = self.openStream(streamID, type: .cancel) else {
                // The call already ended here, but its response may still be queued: the client wants none of it.
                if streamID <= self.lastStreamID {
                    self.scheduler.dropStream(streamID)
                    self.queuedReplyCancelled(streamID)
                }
                return
            }
            // Not a cancel of an open call: no reset budget spent.
            if stream.machine.hasEnded { return self.lateFrameDropped() }
            if var resets = self.resets {
                let allowed = resets.spend(now: self.uptimeNow())
                self.resets = resets
                if !allowed {
                    let budget = self.configuration.connectionLimits.resetBudget!
                    self.connectionError(WireError(.enhanceYourCalm, "The peer cancelled more calls than the reset budget allows (\(budget.burst) at once, \(budget.refillPerSecond) per second)."))
                    return
                }
            }
            self.perform(stream.machine.receiveCancel(reason), on: stream)
        case .credit(let streamID, let bytes):
            if bytes == 0 && !self.glitch("empty frames (CREDIT 0)") { return }
            // Credit applies to what is still queued, which can outlive the call's entry (a response being
            // written after the handler returned).
            if streamID > self.lastStreamID {
                self.connectionError(WireError(.protocolViolation, "A CREDIT frame arrived for stream \(streamID), which was never opened."))
                return
            }
            if self.streams[streamID]?.machine.hasEnded ?? !self.scheduler.hasQueuedFrames(streamID) {
                self.lateFrameDropped()
            }
            if !self.scheduler.addCredit(streamID: streamID, bytes) {
                self.connectionError(WireError(.flowControlViolation, "Stream \(streamID)'s credit passed 2^31 - 1."))
            }
        case .ping(let ping):
            if !ping.ack {
                guard self.pingPolicy.receivedPing(now: self.uptimeNow()) else {
                    self.connectionError(WireError(.tooManyPings, "too many pings"))
                    return
                }
                self.writeControl(.ping(PingFrame(payload: ping.payload, ack: true)))
            }
        case .goAway(let goAway):
            // §14.2: no call starts after a client's GOAWAY. With an error the client closes the connection at
            // once, so its calls end as on connection loss (§14.3): handlers cancelled, reason `cancelled`.
            self.peerSentGoAway = true
            if goAway.code != .noError {
                self.closeReason = .cancelled
                self.close()
            }
        case .callEnd:
            self.connectionError(WireError(.protocolViolation, "A client sent CALL_END on stream \(frame.streamID); only servers end calls."))
        }
    }

    /// The stream a frame refers to; nil (frame dropped) for an ended stream, a goaway for one never opened.
    private func openStream(_ streamID: UInt32, type: FrameType) -> ServerStream? {
        if let stream = self.streams[streamID] { return stream }
        if streamID > self.lastStreamID {
            self.connectionError(WireError(.protocolViolation, "A \(type) frame arrived for stream \(streamID), which was never opened."))
        } else {
            self.lateFrameDropped()
        }
        return nil
    }

    private func handleStreamError(streamID: UInt32, type: FrameType, error: WireError) {
        let status = Status(code: error.statusCode ?? .internal, message: error.message)
        if type == .callStart {
            guard self.acceptNewStreamID(streamID) else { return }
            self.metrics.callStarted("<invalid>")
            self.scheduler.enqueue(.callEnd(CallEnd(streamID: streamID, status: status.code, message: status.message)))
            self.metrics.callFinished("<invalid>", code: status.code, nanoseconds: 0)
            self.glitch("calls that failed on their own bytes")
            return
        }
        guard let stream = self.openStream(streamID, type: type) else { return }
        // State before the decoding result (§13.4): a message after the client's end of stream is that error.
        if type == .message || type == .messageContinuation, stream.machine.refusesMessages {
            return self.messageRefusedByState(stream, endStream: false)
        }
        if stream.machine.hasEnded { return self.lateFrameDropped() }
        self.perform(stream.machine.streamError(status), on: stream)
    }

    /// Checks the id rules for a new stream; a violation ends the connection.
    private func acceptNewStreamID(_ streamID: UInt32) -> Bool {
        if streamID & 1 == 0 {
            self.connectionError(WireError(.protocolViolation, "Client stream ids are odd; got \(streamID)."))
            return false
        }
        if streamID <= self.lastStreamID {
            self.connectionError(WireError(.protocolViolation, "Stream id \(streamID) is not above the last one used (\(self.lastStreamID))."))
            return false
        }
        self.lastStreamID = streamID
        return true
    }

    // MARK: Calls

    private func handleCallStart(_ start: CallStart) {
        guard self.acceptNewStreamID(start.streamID) else { return }
        let streamID = start.streamID
        let now = self.eventLoop.now

        func refuse(_ code: Status.Code, _ message: String) {
            self.scheduler.enqueue(.callEnd(CallEnd(streamID: streamID, status: code, message: message)))
        }

        if case .draining = self.state {
            self.metrics.callRefused()
            refuse(.unavailable, "The server is shutting down and accepts no new calls on this connection.")
            return
        }
        if self.peerSentGoAway {
            self.metrics.callRefused()
            refuse(.unavailable, "The client sent GOAWAY; no new call starts on this connection.")
            return
        }
        // Open calls are counted as the client counts them: a call it cancelled no longer takes a stream slot, even
        // while its handler winds down (that handler still takes a handler slot, see `admitHandler`).
        // A reply still waiting for credit keeps its call open too: the client has not seen its CALL_END.
        let openCalls = self.streams.count - self.windingDown + self.queuedReplies.count
        if openCalls >= self.configuration.maxConcurrentStreams {
            self.metrics.callRefused()
            refuse(.resourceExhausted, "The connection already has \(openCalls) calls open, the most this server allows (\(self.configuration.maxConcurrentStreams)).")
            return
        }
        guard let entry = self.router.entries[start.method] else {
            self.metrics.callStarted(start.method)
            self.metrics.callFinished(start.method, code: .unimplemented, nanoseconds: 0)
            refuse(.unimplemented, "Method '\(start.method)' is not implemented on this server.")
            return
        }
        let methodMetrics = entry.metrics ?? self.metrics.methodMetrics(for: start.method)
        if start.encoding != .identity && !start.encoding.isSupported {
            refuse(.unimplemented, "Message encoding \(start.encoding) is not supported by this server.")
            return
        }

        var deadline: Deadline? = nil
        var originalBudget: Duration? = nil
        if let budget = start.budget {
            var remaining = Duration.microseconds(budget.remainingMicroseconds)
            if let cap = self.configuration.maxInboundBudget, remaining > cap { remaining = cap }
            if remaining <= .zero || remaining < self.configuration.minimumBudget {
                self.metrics.callShed(methodMetrics)
                refuse(.deadlineExceeded, remaining <= .zero
                    ? "The call arrived with its budget already spent; the handler was not started."
                    : "The call arrived with \(remaining) left, below this server's minimum of \(self.configuration.minimumBudget); the handler was not started.")
                return
            }
            deadline = Deadline(uptimeNanoseconds: Int64(now.uptimeNanoseconds)) + remaining
            if budget.originalMicroseconds > 0 { originalBudget = .microseconds(budget.originalMicroseconds) }
        } else if let cap = self.configuration.maxInboundBudget {
            // A call without a deadline from an untrusted peer gets the cap as its budget: none runs forever.
            deadline = Deadline(uptimeNanoseconds: Int64(now.uptimeNanoseconds)) + cap
        }

        let callID = self.callIDs.next()
        let logger = self.logger
        let context = CallContext(
            method: start.method,
            callID: callID,
            deadline: deadline,
            metadata: start.metadata,
            hopCount: Int(start.hopCount),
            originalBudget: originalBudget,
            arrival: Deadline(uptimeNanoseconds: Int64(now.uptimeNanoseconds)),
            serviceContext: .topLevel,
            logger: logger
        )
        let stream = ServerStream(
            id: streamID,
            method: start.method,
            entry: entry,
            methodMetrics: methodMetrics,
            encoding: start.encoding,
            startedAt: now,
            context: context,
            receiveWindow: self.configuration.initialStreamCredit
        )
        self.streams[streamID] = stream
        self.idleSince = nil
        self.scheduler.openStream(streamID)
        self.metrics.callStarted(methodMetrics)
        if let deadline {
            self.queueDeadline(stream, at: deadline)
        }
        if stream.machine.startsHandlerImmediately {
            self.admitHandler(stream, firstMessage: nil)
        }
    }

    private func handleMessage(_ frame: MessageFrame) {
        if frame.data.readableBytes == 0 && (frame.messageLength == nil || !frame.endStream) {
            guard self.glitch("empty frames (an empty continuation, or an empty message that does not end the stream)") else { return }
        }
        guard let stream = self.openStream(frame.streamID, type: frame.type) else { return }
        // State before fragment rules, flow control and decoding (§13.4 step 5).
        if stream.machine.refusesMessages { return self.messageRefusedByState(stream, endStream: frame.endStream) }
        let message: ByteBuffer
        switch stream.inbound.receive(
            frame,
            encoding: stream.encoding,
            compressor: self.compressor,
            maxMessageSize: self.configuration.limits.maxMessageSize,
            allocator: self.context.channel.allocator
        ) {
        case .fragment(let bytes):
            self.grantCredit(stream, bytes: bytes, force: true)
            return
        case .message(let bytes):
            message = bytes
        case .streamError(let status):
            self.perform(stream.machine.streamError(status), on: stream)
            return
        case .connectionError(let error):
            self.connectionError(error)
            return
        }
        // Credit for a whole message returns when it is consumed: a streaming handler reads it from its queue; a
        // single-request call ends its inbound side here and needs no more credit.
        switch stream.machine.receiveMessage(endStream: frame.endStream) {
        case .startHandler(let closeInbound):
            if let requests = stream.requests {
                requests.enqueue(message)
                if closeInbound { requests.finish() }
            } else {
                self.admitHandler(stream, firstMessage: message)
            }
        case .deliver(let closeInbound):
            stream.requests?.enqueue(message)
            if closeInbound { stream.requests?.finish() }
        case let other:
            self.perform(other, on: stream)
        }
    }

    private func grantCredit(_ stream: ServerStream, bytes: Int, force: Bool) {
        switch stream.machine.state {
        case .idle, .active:
            let threshold = force ? 1 : self.configuration.initialStreamCredit / 2
            if let grant = stream.inbound.consumed(bytes, threshold: threshold) {
                self.writeControl(.credit(streamID: stream.id, bytes: grant))
            }
        case .activeInboundClosed, .endedHandlerRunning, .closed:
            stream.inbound.dropOwedCredit()  // The client sends nothing more.
        }
    }

    /// Starts the handler if a handler slot is free, else queues it: at no instant do more than
    /// `maxConcurrentStreams` handlers run on a connection, counting cancelled ones until they return. This bounds
    /// rapid reset by work instead of refusing calls a legitimate client (which counts a cancelled call closed at
    /// once) is entitled to start. A waiting call is still bounded by its deadline and ended by a cancel.
    private func admitHandler(_ stream: ServerStream, firstMessage: ByteBuffer?) {
        if !stream.entry.kind.singleRequest {
            // The request queue exists from the start, so messages that arrive while the handler waits are kept
            // (bounded by the stream's credit).
            let streamID = stream.id
            let eventLoop = self.context.eventLoop
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            stream.requests = InboundMessageQueue { consumed in
                eventLoop.execute {
                    loopBound.value.requestConsumed(streamID: streamID, bytes: consumed)
                }
            }
        }
        self.startWaitingHandlers()  // Older waiters first; also drops ids of calls that ended while waiting.
        if self.runningHandlers < self.configuration.maxConcurrentStreams && self.awaitingSlot.isEmpty {
            self.startHandler(stream, firstMessage: firstMessage)
            return
        }
        stream.awaitingSlot = true
        stream.pendingFirstMessage = firstMessage
        self.awaitingSlot.append(stream.id)
        // Live waiters are at most the open calls (≤ the limit), so a longer queue is mostly ids of calls cancelled
        // while waiting: compact it, or start-and-cancel while every slot is taken would grow it without bound.
        if self.awaitingSlot.count > 2 * self.configuration.maxConcurrentStreams + 16 {
            self.awaitingSlot = CircularBuffer(self.awaitingSlot.filter { self.streams[$0]?.awaitingSlot == true })
        }
    }

    /// Starts waiting handlers, oldest first, while slots are free.
    private func startWaitingHandlers() {
        guard self.state != .closed else { return }  // Calls of a closed connection never start.
        while self.runningHandlers < self.configuration.maxConcurrentStreams, let streamID = self.awaitingSlot.popFirst() {
            guard let stream = self.streams[streamID], stream.awaitingSlot else { continue }
            stream.awaitingSlot = false
            let message = stream.pendingFirstMessage
            stream.pendingFirstMessage = nil
            self.startHandler(stream, firstMessage: message)
        }
    }

    private func startHandler(_ stream: ServerStream, firstMessage: ByteBuffer?) {
        let streamID = stream.id
        let eventLoop = self.context.eventLoop
        let call = ServerCall(
            context: stream.context,
            streamID: streamID,
            firstMessage: firstMessage,
            requests: stream.requests,
            allocator: self.context.channel.allocator,
            connection: NIOLoopBound(self, eventLoop: eventLoop),
            outcomes: self.handlerOutcomes
        )
        stream.handlerRunning = true
        self.runningHandlers += 1
        self.metrics.handlerStarted()
        let handle = stream.entry.handle
        let environment = stream.entry.environment
        // Owned by this connection: cancelled when the call ends, awaited by ServerConnection.run() through
        // `handlersDone` (see handlerFinished and connectionClosed).
        if let taskExecutor = self.taskExecutor {
            stream.task = Task(executorPreference: taskExecutor) {
                await handle(call, environment)
            }
        } else {
            // No preference at all rather than a nil one: a task created with a preference carries a status record
            // that every later enqueue of the task looks up under the task's status lock.
            stream.task = Task {
                await handle(call, environment)
            }
        }
    }

    private func requestConsumed(streamID: UInt32, bytes: Int) {
        guard let stream = self.streams[streamID] else { return }
        self.grantCredit(stream, bytes: bytes, force: false)
        self.flushSoon()
    }

    /// Handlers' outcomes queued from other threads, taken in batches on the loop.
    let handlerOutcomes = LoopInbox<HandlerOutcome>()

    /// Takes every queued handler outcome (the job ``ServerCall/finish(response:status:trailers:)`` schedules).
    func takeHandlerOutcomes() {
        self.handlerOutcomes.takeAll { outcomes in
            for outcome in outcomes { self.handlerFinished(outcome) }
        }
    }

    /// A handler's outcome arrived (on the event loop).
    func handlerFinished(_ outcome: HandlerOutcome) {
        self.handlerFinished(streamID: outcome.streamID, response: outcome.response, status: outcome.status, trailers: outcome.trailers)
    }

    /// The handler's outcome arrived (on the event loop).
    private func handlerFinished(streamID: UInt32, response: ByteBuffer?, status: Status, trailers: Metadata) {
        guard let stream = self.streams[streamID], stream.handlerRunning else { return }
        // A deadline that passed before this outcome was taken wins, even if its timer has not run yet (the loop was
        // busy): the caller's own timer has failed the call by now, so an OK recorded here would contradict it.
        if stream.endedAt == nil, let deadline = stream.context.deadline,
            deadline.uptimeNanoseconds <= Int64(self.eventLoop.now.uptimeNanoseconds)
        {
            self.perform(stream.machine.deadlineExpired(), on: stream)
        }
        let action = stream.machine.handlerFinished(status)
        stream.handlerRunning = false
        self.deadlines.remove(stream)  // Its deadline, or its straggler check: neither matters once it returned.
        self.runningHandlers -= 1
        if stream.endedAt != nil { self.windingDown -= 1 }
        defer { self.startWaitingHandlers() }
        self.metrics.handlerReturned()
        if stream.isStraggler, let endedAt = stream.endedAt {
            let overrun = self.eventLoop.now - endedAt
            self.metrics.stragglerReturned(overrunNanoseconds: overrun.nanoseconds)
            stream.context.logger.warning(
                "Straggler handler returned",
                metadata: ["drpc.overrun_ms": "\(overrun.nanoseconds / 1_000_000)"]
            )
        }
        switch action {
        case .endCallAndRelease(var status):
            var trailers = trailers
            // Checked here, before anything is written: trailers the client would refuse would turn the handler's
            // status into the client's "reply was refused". Empty trailers (nearly every call) cost one check.
            if !trailers.isEmpty, let (code, error) = Self.trailerProblem(trailers, peer: self.peerSettings) {
                status = Status(
                    code: code,
                    message: code == .internal
                        ? "The handler's trailing metadata is invalid and was not sent: \(error.message)"
                        : "The handler's trailing metadata is too large for the client and was not sent: \(error.message)"
                )
                trailers = Metadata()
                self.logInvalidTrailers(stream, error, code: code)
                // The response goes too: the call failed, and a reply followed by `internal` would be half a success.
                self.endCall(stream, status: status, trailers: trailers)
                self.release(stream)
                break
            }
            if let response {
                if response.readableBytes > Int(self.peerSettings.maxMessageSize) {
                    status = Status(code: .resourceExhausted, message: "The response message is \(response.readableBytes) bytes; the client accepts at most \(self.peerSettings.maxMessageSize).")
                    trailers = Metadata()
                } else {
                    self.sendResponse(stream, response, endStream: false)
                }
            }
            self.endCall(stream, status: status, trailers: trailers)
            self.release(stream)
        case .release:
            self.release(stream)
        default:
            self.perform(action, on: stream)
        }
        self.flushSoon()
        self.checkDrained()
        self.checkHandlersDone()
    }

    /// Logs a handler's invalid trailers, once per method: a handler that sets a bad key does so on every
    /// call, and one line names the bug as well as a thousand.
    /// What is wrong with trailers a handler set: a key or value the wire forbids (`internal`, a handler bug), or a
    /// block over the client's advertised limits (`resourceExhausted`, like an oversized response).
    private static func trailerProblem(_ trailers: Metadata, peer: Settings) -> (Status.Code, WireError)? {
        if let error = trailers.validate() { return (.internal, error) }
        if let error = trailers.checkLimits(of: peer) { return (.resourceExhausted, error) }
        return nil
    }

    private func logInvalidTrailers(_ stream: ServerStream, _ error: WireError, code: Status.Code) {
        guard stream.methodMetrics.invalidTrailersLogged.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            return
        }
        stream.context.logger.error(
            "A handler's trailing metadata could not be sent; the call ended with \(code) instead (logged once per method)",
            metadata: ["drpc.method": "\(stream.method)", "drpc.error": "\(error.message)"]
        )
    }

    /// A streamed response from the handler (on the event loop).
    func handlerSend(streamID: UInt32, message: ByteBuffer, continuation: CheckedContinuation<Void, any Error>) {
        if let stream = self.streams[streamID], message.readableBytes > Int(self.peerSettings.maxMessageSize) {
            let status = Status(code: .resourceExhausted, message: "A response message is \(message.readableBytes) bytes; the client accepts at most \(self.peerSettings.maxMessageSize).")
            self.perform(stream.machine.abort(status, reason: .resourceLimit), on: stream)
            self.flushSoon()
        }
        guard let stream = self.streams[streamID], stream.machine.handlerWrote() == .write else {
            continuation.resume(throwing: RPCError(code: .cancelled, message: "The call has already ended; the response was not sent.", cancelReason: self.streams[streamID]?.context.cancelReason))
            return
        }
        self.sendResponse(stream, message, endStream: false)
        if self.scheduler.queuedBytes(of: streamID) > Self.writerWatermark {
            stream.writerWaiter = continuation
        } else {
            continuation.resume()
        }
        self.flushSoon()
    }

    /// Queued bytes per stream above which a streaming writer waits.
    static let writerWatermark = 64 * 1024

    private func sendResponse(_ stream: ServerStream, _ message: ByteBuffer, endStream: Bool) {
        var bytes = message
        var compressed = false
        if stream.encoding != .identity && self.peerSettings.accepts(stream.encoding) && bytes.readableBytes >= Self.compressionThreshold {
            if let compressedBytes = try? self.compressor.compress(bytes, encoding: stream.encoding, allocator: self.context.channel.allocator),
                compressedBytes.readableBytes < bytes.readableBytes
            {
                bytes = compressedBytes
                compressed = true
            }
        }
        self.scheduler.enqueueMessage(streamID: stream.id, bytes, compressed: compressed, endStream: endStream)
    }

    /// Messages smaller than this are sent uncompressed even on a compressed stream: zlib would grow them.
    static let compressionThreshold = 128

    private func endCall(_ stream: ServerStream, status: Status, trailers: Metadata) {
        let end = Frame.callEnd(CallEnd(streamID: stream.id, status: status.code, message: status.message, metadata: trailers))
        guard status.code == .ok else {
            // §10.3: an error end is never stuck behind flow control; the unsent messages go.
            self.scheduler.endStreamNow(stream.id, end: end, cancel: .cancel(streamID: stream.id, reason: Self.cancelReason(for: status.code)))
            self.recordFinished(stream, code: status.code)
            return
        }
        self.scheduler.enqueue(end, last: true)
        if self.scheduler.hasQueuedFrames(stream.id) {
            self.replyQueued(stream)
        } else {
            self.recordFinished(stream, code: status.code)
        }
    }

    /// Executes a state machine action.
    private func perform(_ action: ServerStreamStateMachine.Action, on stream: ServerStream) {
        switch action {
        case .none, .write, .startHandler, .deliver:
            // Messages and handler starts are handled where they arise (they carry data the action does not).
            break
        case .closeInbound:
            stream.requests?.finish()
        case .endCall(let status, let reason):
            if self.scheduler.hasPartialMessage(stream.id) {
                // Half a message is on the wire: a CALL_END now would break framing, so cancel the stream instead,
                // with the cause that matches the status.
                self.scheduler.dropStream(stream.id)
                self.writeControl(.cancel(streamID: stream.id, reason: Self.cancelReason(for: status.code)))
                self.recordFinished(stream, code: status.code)
            } else {
                self.scheduler.dropStream(stream.id)
                self.endCall(stream, status: status, trailers: Metadata())
            }
            self.cancelHandler(stream, reason: reason)
            // A call the peer's own bytes broke (§13.2) is a glitch; charged last, as it may end the connection.
            if reason == .streamError { self.glitch("calls that failed on their own bytes") }
        case .cancelHandler(let reason):
            self.scheduler.dropStream(stream.id)
            self.recordFinished(stream, code: reason.statusCode)
            self.cancelHandler(stream, reason: reason)
        case .endCallAndRelease(let status):
            self.endCall(stream, status: status, trailers: Metadata())
            self.release(stream)
        case .release:
            self.release(stream)
        }
    }

    static func cancelReason(for code: Status.Code) -> CancelReason {
        switch code {
        case .deadlineExceeded: return .deadlineExceeded
        case .resourceExhausted: return .resourceLimit
        case .unavailable: return .shuttingDown
        case .cancelled: return .cancelled
        default: return .streamError
        }
    }

    private func cancelHandler(_ stream: ServerStream, reason: CancelReason) {
        if stream.endedAt == nil {
            self.deadlines.remove(stream)  // Its deadline; an ended call's straggler check stays queued.
        }
        stream.context.control.recordCancel(reason)
        // Only streaming calls have readers or writers to fail; a unary call's cancel makes no error at all.
        if stream.requests != nil || stream.writerWaiter != nil {
            let error = RPCError.cancelled(reason)
            stream.requests?.finish(error)
            if let waiter = stream.writerWaiter {
                stream.writerWaiter = nil
                waiter.resume(throwing: error)
            }
        }
        stream.task?.cancel()
        guard stream.handlerRunning else {
            stream.awaitingSlot = false  // A call ended while waiting for a slot never starts its handler.
            stream.pendingFirstMessage = nil
            self.release(stream)
            return
        }
        guard stream.endedAt == nil else { return }  // Already cancelled: one straggler timer, one count.
        let now = self.eventLoop.now
        stream.endedAt = now
        stream.endReason = reason
        self.windingDown += 1
        self.queueDeadline(stream, at: Deadline(uptimeNanoseconds: Int64(now.uptimeNanoseconds)) + self.configuration.stragglerGracePeriod)
    }

    /// The handler of a call that ended is still running a grace period later: a straggler.
    private func stragglerCheck(_ stream: ServerStream) {
        guard self.streams[stream.id] === stream, stream.handlerRunning else { return }
        stream.isStraggler = true
        self.metrics.stragglerDetected(stream.methodMetrics)
        let reason = stream.endReason ?? .cancelled
        stream.context.logger.warning(
            "Handler still running \(self.configuration.stragglerGracePeriod) after its call ended (\(reason)): a straggler that ignores cancellation",
            metadata: ["drpc.cancel_reason": "\(reason)"]
        )
    }

    /// Records the call's end in the metrics, exactly once per stream.
    private func recordFinished(_ stream: ServerStream, code: Status.Code) {
        guard !stream.finishRecorded else { return }
        stream.finishRecorded = true
        let elapsed = self.eventLoop.now - stream.startedAt
        self.metrics.callFinished(stream.methodMetrics, code: code, nanoseconds: elapsed.nanoseconds)
    }

    private func release(_ stream: ServerStream) {
        // A call released without an end of its own (cancelled, or its connection lost, before its request
        // message arrived) still ends once in the metrics.
        self.recordFinished(stream, code: .cancelled)
        if stream.endedAt == nil || !stream.handlerRunning {
            self.deadlines.remove(stream)  // A running handler keeps its straggler check.
        }
        if let waiter = stream.writerWaiter {
            stream.writerWaiter = nil
            waiter.resume(throwing: RPCError(code: .cancelled, message: "The call has ended."))
        }
        guard !stream.handlerRunning else { return }  // Forgotten when the handler returns.
        self.streams.removeValue(forKey: stream.id)
        self.checkDrained()
        self.noteIdle()
    }

    // MARK: Deadlines

    /// Queues the stream's deadline (or straggler check) behind the connection's one deadline timer.
    private func queueDeadline(_ stream: ServerStream, at deadline: Deadline) {
        if let armAt = self.deadlines.insert(stream, deadline: deadline.uptimeNanoseconds) {
            self.armDeadlineTimer(at: armAt)
        }
    }

    private func armDeadlineTimer(at uptimeNanoseconds: Int64) {
        self.deadlineTimer?.cancel()
        let when = NIODeadline.uptimeNanoseconds(UInt64(max(0, uptimeNanoseconds)))
        self.deadlineTimer = self.context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            self.deadlineTimer = nil
            self.deadlinesDue()
        }
    }

    /// The deadline timer fired: expire the calls whose deadline came, check the handlers whose grace period ran out.
    private func deadlinesDue() {
        let due = self.deadlines.timerFired(now: Int64(self.eventLoop.now.uptimeNanoseconds))
        for stream in due where self.streams[stream.id] === stream {
            if stream.endedAt != nil {
                self.stragglerCheck(stream)
            } else {
                self.perform(stream.machine.deadlineExpired(), on: stream)
            }
        }
        if let armAt = self.deadlines.nextArm() { self.armDeadlineTimer(at: armAt) }
        if !due.isEmpty { self.flushSoon() }
    }

    // MARK: Writing

    /// Flushes at the end of this event-loop tick, so every response produced in the tick shares one write.
    func flushSoon() {
        guard !self.flushScheduled, let context = self.context else { return }
        self.flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            self.flushScheduled = false
            self.flushNow()
        }
    }

    private func flushNow() {
        guard let context = self.context, self.state != .closed else { return }
        if self.scheduler.hasQueuedData && self.scheduler.writable {
            let progressed = self.scheduler.pump(budget: 64 * 1024)
            if !self.queuedReplies.isEmpty { self.repliesWritten(progressed) }
            for streamID in progressed {
                if let stream = self.streams[streamID], let waiter = stream.writerWaiter,
                    self.scheduler.queuedBytes(of: streamID) <= Self.writerWatermark
                {
                    stream.writerWaiter = nil
                    waiter.resume()
                }
            }
        }
        guard self.scheduler.hasPendingBytes else { return }
        if context.channel.isWritable {
            context.writeAndFlush(self.wrapOutboundOut(self.scheduler.takePending()), promise: nil)
        } else {
            // Bytes queued behind a full write buffer: once they reach the socket the peer is reading (slowly,
            // perhaps), so the control frames counted against it are no longer piling up.
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenSuccess { [self] in self.controlFramesWhileBlocked = 0 }
            context.writeAndFlush(self.wrapOutboundOut(self.scheduler.takePending()), promise: written)
        }
        if self.scheduler.hasQueuedData && context.channel.isWritable { self.flushSoon() }
    }

    // MARK: Late frames and replies waiting for credit

    /// A frame for a stream that already ended: dropped quietly, counted (§9.3, §13.3).
    private func lateFrameDropped() {
        self.metrics.counters.lateFramesDropped.add(1, ordering: .relaxed)
    }

    /// A message for a stream whose state refuses it: after the client's end of stream the call ends `INTERNAL`;
    /// after the call's end it is dropped.
    private func messageRefusedByState(_ stream: ServerStream, endStream: Bool) {
        if stream.machine.hasEnded { return self.lateFrameDropped() }
        self.perform(stream.machine.receiveMessage(endStream: endStream), on: stream)
    }

    /// A call ended `OK` but its reply waits for credit: it stays open on the wire until its `CALL_END` is written,
    /// its deadline still applies, and its end is recorded when it happens.
    private func replyQueued(_ stream: ServerStream) {
        // Keeps `release` from recording the call as cancelled; `recordQueuedReplyFinished` records its real end.
        stream.finishRecorded = true
        self.queuedReplies.insert(stream, deadline: stream.context.deadline?.uptimeNanoseconds)
        self.armQueuedReplyTimer()
    }

    private func recordQueuedReplyFinished(_ stream: ServerStream, code: Status.Code) {
        let elapsed = self.eventLoop.now - stream.startedAt
        self.metrics.callFinished(stream.methodMetrics, code: code, nanoseconds: elapsed.nanoseconds)
    }

    /// The scheduler wrote frames of `streamIDs`: a queued reply whose queue is gone was written in full.
    private func repliesWritten(_ streamIDs: [UInt32]) {
        for streamID in streamIDs where !self.scheduler.hasQueuedFrames(streamID) {
            if let stream = self.queuedReplies.remove(streamID) { self.recordQueuedReplyFinished(stream, code: .ok) }
        }
        if case .draining = self.state, self.queuedReplies.isEmpty, let context = self.context {
            context.eventLoop.assumeIsolated().execute { [self] in self.checkDrained() }
        }
    }

    /// The client cancelled a call whose reply was still queued.
    private func queuedReplyCancelled(_ streamID: UInt32) {
        guard let stream = self.queuedReplies.remove(streamID) else { return }
        self.recordQueuedReplyFinished(stream, code: .cancelled)
        self.checkDrained()
    }

    /// Ends a queued reply with an error at once (§10.3): its unsent bytes are dropped.
    private func endQueuedReply(_ stream: ServerStream, _ status: Status) {
        self.scheduler.endStreamNow(
            stream.id,
            end: .callEnd(CallEnd(streamID: stream.id, status: status.code, message: status.message)),
            cancel: .cancel(streamID: stream.id, reason: Self.cancelReason(for: status.code))
        )
        self.recordQueuedReplyFinished(stream, code: status.code)
    }

    private func armQueuedReplyTimer() {
        guard let at = self.queuedReplies.earliestDeadline, let context = self.context else { return }
        if let armedAt = self.queuedReplyTimerAt, armedAt <= at { return }
        self.queuedReplyTimer?.cancel()
        self.queuedReplyTimerAt = at
        self.queuedReplyTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, at)))) { [self] in
            self.queuedReplyTimer = nil
            self.queuedReplyTimerAt = nil
            guard self.state != .closed else { return }
            for stream in self.queuedReplies.removeExpired(now: self.uptimeNow()) {
                self.endQueuedReply(
                    stream,
                    Status(code: .deadlineExceeded, message: "The call's deadline passed on the server while its reply waited for credit; the reply was dropped.")
                )
            }
            self.armQueuedReplyTimer()
            self.flushSoon()
            self.checkDrained()
        }
    }

    // MARK: Connection lifecycle

    /// Ends the connection for a protocol violation: goaway with the reason, then close.
    private func connectionError(_ error: WireError) {
        guard self.state != .closed, let context = self.context else { return }
        self.logger.debug("Closing connection: \(error)")
        self.closeReason = .streamError
        self.scheduler.writeControl(
            .goAway(GoAway(lastStreamID: self.lastStreamID, code: error.goAwayCode ?? .protocolError, reason: error.message))
        )
        let bytes = self.scheduler.takePending()
        let peerReads = context.channel.isWritable
        self.state = .closed
        context.writeAndFlush(self.wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        // A peer that does not read would keep the flush, and the connection, pending forever.
        if !peerReads { context.close(promise: nil) }
        self.cancelAllStreams(reason: .streamError)
    }

    /// Graceful shutdown: goaway, no new calls, in-flight calls finish within their deadlines or `drainTimeout`.
    func beginGracefulShutdown() {
        guard let context = self.context else { return }
        switch self.state {
        case .active, .awaitingSettings:
            self.state = .draining
            self.closeReason = .shuttingDown
            self.scheduler.writeControl(
                .goAway(GoAway(lastStreamID: self.lastStreamID, code: .noError, reason: "The server is shutting down."))
            )
            self.flushNow()
            let timeout = self.configuration.drainTimeout
            self.drainTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { [self] in
                for stream in self.streams.values {
                    self.perform(
                        stream.machine.abort(Status(code: .unavailable, message: "The server shut down before the call finished."), reason: .shuttingDown),
                        on: stream
                    )
                }
                for stream in self.queuedReplies.removeAll() {
                    self.endQueuedReply(stream, Status(code: .unavailable, message: "The server shut down before the call finished."))
                }
                self.flushNow()
                self.close()
            }
            self.checkDrained()
        case .draining, .closed:
            break
        }
    }

    private func checkDrained() {
        guard case .draining = self.state, self.streams.isEmpty, self.queuedReplies.isEmpty else { return }
        self.flushNow()
        self.close()
    }

    private func close() {
        guard self.state != .closed, let context = self.context else { return }
        self.state = .closed
        context.close(promise: nil)
    }

    private func cancelAllStreams(reason: CancelReason) {
        for stream in Array(self.streams.values) {
            switch stream.machine.connectionClosed(reason) {
            case .cancelHandler(let reason):
                self.recordFinished(stream, code: .unavailable)
                self.cancelHandler(stream, reason: reason)
            case .release:
                self.release(stream)
            default:
                break
            }
        }
    }

    private var closedOnce = false

    private func connectionClosed() {
        guard !self.closedOnce else { return }
        self.closedOnce = true
        self.state = .closed
        self.prefaceTimer?.cancel()
        self.drainTimer?.cancel()
        self.idleTimer?.cancel()
        self.queuedReplyTimer?.cancel()
        for stream in self.queuedReplies.removeAll() { self.recordQueuedReplyFinished(stream, code: .unavailable) }
        self.metrics.counters.connections.subtract(1, ordering: .relaxed)
        self.cancelAllStreams(reason: self.closeReason)
        self.checkHandlersDone()
    }

    private func checkHandlersDone() {
        if self.closedOnce && self.runningHandlers == 0 {
            self.deadlineTimer?.cancel()
            self.deadlineTimer = nil
            self.deadlines.removeAll()
            self.handlersDone.succeed()
            // The handler holds its context and the context its handler: nothing runs on this connection any more,
            // so break the cycle, or every closed connection (and whatever its queues hold) stays in memory.
            self.context = nil
        }
    }
}

/// Process-wide call ids for logs.
final class CallIDGenerator: Sendable {
    private let counter = Atomic<UInt64>(0)
    init() {}
    func next() -> UInt64 { self.counter.wrappingAdd(1, ordering: .relaxed).newValue }
}
