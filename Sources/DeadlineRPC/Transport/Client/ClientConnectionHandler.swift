import Logging
import NIOCore
import Synchronization
import Wire

/// One client connection: multiplexes every call as a stream, decodes the server's frames, enforces each call's
/// deadline on this host's clock, and sends a typed `CANCEL` the moment a call is cancelled or expires.
///
/// Confined to its channel's event loop, like everything it touches.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State: Equatable {
        case awaitingSettings
        case ready
        /// The server sent goaway: no new calls; calls at or below `lastStreamID` finish.
        case draining
        case closed
    }

    private let configuration: RPCClient.Configuration
    private let manager: ClientConnectionManager
    /// Set while the handler is in the pipeline and its channel open: dropped when the channel closes, because the
    /// context holds its handler too and NIO does not break that cycle (every closed connection, its decoder buffer
    /// and queues, stayed in memory: ~40 KiB per connection killed in the kill soak).
    private var context: ChannelHandlerContext?
    private var allocator = ByteBufferAllocator()
    private var decoder: FrameDecoder
    private var scheduler: OutboundScheduler!
    private let compressor = MessageCompressor()
    private var streams: [UInt32: ClientCall] = [:]
    private var nextStreamID: UInt32 = 1
    private(set) var peerSettings = Settings.default
    private(set) var state: State = .awaitingSettings
    private var flushScheduled = false
    private var keepaliveTimer: Scheduled<Void>?
    private var pingTimeoutTimer: Scheduled<Void>?
    private var closeError: RPCError?
    /// The last measured round-trip time of a keepalive ping.
    private(set) var roundTripTime: Duration?

    /// Client connection handlers alive in the process (created and not yet deinitialized): a leak probe for tests.
    static let liveInstances = Atomic<Int>(0)

    init(configuration: RPCClient.Configuration, manager: ClientConnectionManager) {
        self.configuration = configuration
        self.manager = manager
        self.decoder = FrameDecoder(limits: configuration.limits, expectPreface: true)
        Self.liveInstances.wrappingAdd(1, ordering: .relaxed)
    }

    deinit {
        Self.liveInstances.wrappingSubtract(1, ordering: .relaxed)
    }

    var activeCalls: Int { self.streams.count }

    /// Whether the connection can take a new call now.
    var acceptsCalls: Bool {
        self.state == .ready && self.streams.count < Int(self.peerSettings.maxConcurrentStreams)
            && !self.outOfStreamIDs
    }

    /// Whether every stream id has been used (a fresh connection is needed).
    var outOfStreamIDs: Bool { self.nextStreamID >= 0x7FFF_FFFF }

    /// The connection's state and open streams, for diagnostics.
    var debugSnapshot: String {
        "connection \(self.state), \(self.streams.count) streams, channel \(self.context?.channel.isActive == true ? "active" : "inactive")"
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.allocator = context.channel.allocator
        self.scheduler = OutboundScheduler(
            allocator: context.channel.allocator,
            maxFrameSize: Int(Settings.default.maxFrameSize),
            initialCredit: Int(Settings.default.initialStreamCredit)
        )
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        FrameEncoder.writePreface(into: &buffer)
        FrameEncoder.write(.settings(self.configuration.settings), into: &buffer)
        context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.state != .closed else { return }
        self.decoder.append(self.unwrapInboundIn(data))
        do {
            while self.state != .closed, let decoded = try self.decoder.nextFrame() {
                switch decoded {
                case .frame(let frame): self.handle(frame)
                case .streamError(let streamID, _, let error): self.handleStreamError(streamID: streamID, error: error)
                }
            }
        } catch {
            self.connectionError(error)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushNow()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.scheduler.writable = context.channel.isWritable
        if context.channel.isWritable { self.flushNow() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionClosed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.closeError = RPCError(code: .unavailable, message: "The connection failed: \(error).", cause: error)
        context.close(promise: nil)
    }

    // MARK: Frames from the server

    private func handle(_ frame: Frame) {
        switch frame {
        case .settings(let settings):
            self.peerSettings = settings
            self.scheduler.maxFrameSize = Int(settings.maxFrameSize)
            self.scheduler.initialCredit = Int(settings.initialStreamCredit)
            if self.state == .awaitingSettings {
                self.state = .ready
                self.scheduleKeepalive()
                self.manager.connectionReady(self)
            }
        case .message(let message):
            self.handleMessage(message)
        case .callEnd(let end):
            guard let call = self.stream(end.streamID, type: .callEnd) else { return }
            let loop = call.loop
            if loop.inbound.isAssembling {
                self.connectionError(WireError(.protocolViolation, "The server ended stream \(end.streamID) in the middle of a message."))
                return
            }
            loop.trailers = end.metadata
            let code = end.status.isDefined ? end.status : .unknown
            self.perform(loop.machine.receiveCallEnd(Status(code: code, message: end.message)), call: call, metadata: end.metadata)
        case .cancel(let streamID, let reason):
            guard let call = self.stream(streamID, type: .cancel) else { return }
            self.perform(call.loop.machine.receiveCancel(reason), call: call)
        case .credit(let streamID, let bytes):
            guard self.stream(streamID, type: .credit) != nil else { return }
            if !self.scheduler.addCredit(streamID: streamID, bytes) {
                self.connectionError(WireError(.flowControlViolation, "Stream \(streamID)'s credit passed 2^31 - 1."))
            }
        case .ping(let ping):
            if ping.ack {
                self.pingTimeoutTimer?.cancel()
                self.pingTimeoutTimer = nil
                let sent = Int64(bitPattern: ping.payload)
                self.roundTripTime = .nanoseconds(Int64(clamping: self.manager.eventLoop.now.uptimeNanoseconds) - sent)
            } else {
                self.scheduler.writeControl(.ping(PingFrame(payload: ping.payload, ack: true)))
            }
        case .goAway(let goAway):
            self.handleGoAway(goAway)
        case .callStart, .halfClose:
            self.connectionError(WireError(.protocolViolation, "A server sent \(frame.type) on stream \(frame.streamID); only clients start calls and half-close."))
        }
    }

    private func stream(_ streamID: UInt32, type: FrameType) -> ClientCall? {
        if let call = self.streams[streamID] { return call }
        if streamID >= self.nextStreamID {
            self.connectionError(WireError(.protocolViolation, "A \(type) frame arrived for stream \(streamID), which was never opened."))
        } else {
            self.manager.lateFrameDropped()
        }
        return nil
    }

    private func handleStreamError(streamID: UInt32, error: WireError) {
        guard let call = self.stream(streamID, type: .callEnd) else { return }
        let status = Status(code: error.statusCode ?? .internal, message: "The server's reply was refused: \(error.message)")
        self.perform(call.loop.machine.streamError(status), call: call)
    }

    private func handleMessage(_ frame: MessageFrame) {
        guard let call = self.stream(frame.streamID, type: frame.type) else { return }
        let loop = call.loop
        let message: ByteBuffer
        switch loop.inbound.receive(
            frame,
            encoding: call.encoding,
            compressor: self.compressor,
            maxMessageSize: self.configuration.limits.maxMessageSize,
            allocator: self.allocator
        ) {
        case .fragment(let bytes):
            self.grantCredit(call, bytes: bytes, force: true)
            return
        case .message(let bytes):
            message = bytes
        case .streamError(let status):
            self.perform(loop.machine.streamError(status), call: call)
            return
        case .connectionError(let error):
            self.connectionError(error)
            return
        }
        switch loop.machine.receiveMessage(endStream: frame.endStream) {
        case .deliver:
            if let responses = loop.responses {
                responses.enqueue(message)
            } else {
                loop.singleResponse = message
            }
        case let other:
            self.perform(other, call: call)
        }
    }

    private func grantCredit(_ call: ClientCall, bytes: Int, force: Bool) {
        let loop = call.loop
        guard !loop.machine.isClosed else { return }
        let threshold = force ? 1 : self.configuration.initialStreamCredit / 2
        if let grant = loop.inbound.consumed(bytes, threshold: threshold) {
            self.scheduler.writeControl(.credit(streamID: loop.streamID, bytes: grant))
        }
    }

    /// The caller consumed a streamed response: grant its bytes back once half a window has been read.
    func responseConsumed(_ call: ClientCall, bytes: Int) {
        guard self.streams[call.loop.streamID] === call else { return }
        self.grantCredit(call, bytes: bytes, force: false)
        self.flushSoon()
    }

    private func handleGoAway(_ goAway: GoAway) {
        if goAway.code != .noError {
            self.configuration.logger.warning("The server closed the connection: \(goAway.code): \(goAway.reason)")
        }
        self.state = self.state == .closed ? .closed : .draining
        self.keepaliveTimer?.cancel()
        // Tell the manager first: failing the last open call below closes the connection on the spot, and a
        // connection reported draining after it closed would be waited for by close() forever.
        self.manager.connectionDraining(self)
        // Calls above the last accepted id were never processed: fail them `unavailable`, safe to retry.
        for (streamID, call) in self.streams where streamID > goAway.lastStreamID {
            let status = Status(code: .unavailable, message: "The server is closing the connection (\(goAway.code): \(goAway.reason)); the call was not processed.")
            self.perform(call.loop.machine.connectionClosed(status), call: call)
        }
        if self.streams.isEmpty { self.context?.close(promise: nil) }
    }

    // MARK: Calls from the caller

    /// Opens a stream for `call` and writes its start (and its single request, if any); `now` is the loop's clock,
    /// read when the call was dispatched, from which the budget on the wire is counted. Returns why the call cannot
    /// be sent, if it cannot: then no stream was opened, and the manager ends the call.
    func startCall(_ call: ClientCall, now: NIODeadline) -> RPCError? {
        let loop = call.loop
        var budget: WireBudget? = nil
        if let deadline = call.deadline {
            let remaining = deadline.timeRemaining(at: Deadline(now))
            if remaining <= .zero {
                // The budget ran out before the call could be sent: fail locally, send nothing, open no stream
                // (a later cancel must not name a stream the server never saw).
                return RPCError(code: .deadlineExceeded, message: "The call's budget was spent before it could be sent.", cancelReason: .deadlineExceeded)
            }
            budget = WireBudget(
                remainingMicroseconds: max(1, remaining.microseconds),
                originalMicroseconds: call.originalBudget?.microseconds ?? remaining.microseconds
            )
        }
        if !call.metadata.isEmpty, let error = call.metadata.checkLimits(of: self.peerSettings) {
            // The server would refuse the CALL_START: fail here, with the reason, and open no stream.
            return RPCError(code: .resourceExhausted, message: "The request metadata is too large for the server and was not sent: \(error.message)")
        }
        let streamID = self.nextStreamID
        self.nextStreamID += 2
        loop.streamID = streamID
        loop.connection = self
        loop.inbound = InboundMessageReader(window: self.configuration.initialStreamCredit)
        self.streams[streamID] = call
        loop.machine.streamOpened()
        self.scheduler.openStream(streamID)
        let compressed = call.encoding != .identity && self.peerSettings.accepts(call.encoding)
        self.scheduler.enqueue(
            .callStart(
                CallStart(
                    streamID: streamID,
                    method: call.method,
                    budget: budget,
                    hopCount: call.hopCount,
                    encoding: compressed ? call.encoding : .identity,
                    metadata: call.metadata
                )
            )
        )
        if let request = call.firstRequest {
            _ = loop.machine.send(end: true)
            guard self.writeMessage(call, request, endStream: true) else { return nil }  // Ended, stream and all.
        }
        if let waiter = loop.startWaiter {
            loop.startWaiter = nil
            waiter.resume()
        }
        self.flushSoon()
        return nil
    }

    /// Sends a streamed request; waits (via `continuation`) while the stream's queue is over its watermark.
    func send(_ call: ClientCall, _ message: ByteBuffer, continuation: CheckedContinuation<Void, any Error>) {
        let loop = call.loop
        guard loop.machine.send(end: false) == .write else {
            continuation.resume(throwing: loop.outcomeError ?? RPCError(code: .failedPrecondition, message: "The request stream is already closed."))
            return
        }
        guard self.writeMessage(call, message, endStream: false) else {
            continuation.resume(throwing: loop.outcomeError ?? RPCError(code: .resourceExhausted, message: "The request is too large."))
            return
        }
        if self.scheduler.queuedBytes(of: loop.streamID) > ConnectionWriter.writerWatermark {
            loop.writerWaiter = continuation
        } else {
            continuation.resume()
        }
        self.flushSoon()
    }

    /// Ends the request stream.
    func halfClose(_ call: ClientCall) {
        let loop = call.loop
        guard loop.machine.halfClose() == .write else { return }
        self.scheduler.enqueue(.halfClose(streamID: loop.streamID))
        self.flushSoon()
    }

    /// Queues a request; a message larger than the server accepts fails the call locally instead (returns false).
    private func writeMessage(_ call: ClientCall, _ message: ByteBuffer, endStream: Bool) -> Bool {
        if message.readableBytes > Int(self.peerSettings.maxMessageSize) {
            let status = Status(code: .resourceExhausted, message: "The request message is \(message.readableBytes) bytes; the server accepts at most \(self.peerSettings.maxMessageSize).")
            self.perform(call.loop.machine.streamError(status), call: call)
            return false
        }
        var bytes = message
        var compressed = false
        if call.encoding != .identity && self.peerSettings.accepts(call.encoding) && bytes.readableBytes >= ConnectionWriter.compressionThreshold,
            let packed = try? self.compressor.compress(bytes, encoding: call.encoding, allocator: self.allocator),
            packed.readableBytes < bytes.readableBytes
        {
            bytes = packed
            compressed = true
        }
        self.scheduler.enqueueMessage(streamID: call.loop.streamID, bytes, compressed: compressed, endStream: endStream)
        return true
    }

    /// The call's deadline passed on this host's clock: fail it at once and tell the server.
    func deadlineExpired(_ call: ClientCall) {
        self.perform(call.loop.machine.deadlineExpired(), call: call)
        self.cancelWritten()
    }

    /// The caller gave up (task cancelled, or a combinator cancelled it with its own cause).
    func cancel(_ call: ClientCall, reason: CancelReason, origin: CancelOrigin = .caller) {
        let loop = call.loop
        // Already over: nothing to send (the machine would say so too, but no CANCEL flush is due either).
        guard loop.machine.isOnStream, self.streams[loop.streamID] === call else { return }
        self.perform(loop.machine.callerCancelled(reason, origin: origin), call: call)
        self.cancelWritten()
    }

    /// Cancels written since the last flush.
    private var unflushedCancels = 0
    /// Cancels held back at most before a flush: a task group cancelling a thousand calls queues a thousand cancel
    /// jobs on this loop, and a flush queued behind them all would hold every `CANCEL` until the last is processed
    /// (the first server handler would stop only after the client's whole burst). Every 32, the server's loop
    /// starts stopping handlers while this one is still cancelling; 32 frames are about 350 bytes per write.
    static let cancelsPerFlush = 32

    private func cancelWritten() {
        self.unflushedCancels += 1
        if self.unflushedCancels >= Self.cancelsPerFlush {
            self.flushNow()
        } else {
            self.flushSoon()
        }
    }

    // MARK: Outcomes

    /// Carries out what the machine decided for a call on a stream; an ending settles the stream here, then tells
    /// the manager once (``ClientConnectionManager/streamEnded(_:)``), which settles the deadline and the count.
    private func perform(_ action: CallStateMachine.Client.Action, call: ClientCall, metadata: Metadata = Metadata()) {
        let loop = call.loop
        switch action {
        case .none, .deliver, .write, .refuse:
            return
        case .dropLateFrame:
            self.manager.lateFrameDropped()
            return
        case .finish(let status):
            if status.code == .ok {
                loop.complete(.success(loop.singleResponse))
            } else {
                // Whichever side's clock noticed first, a deadline outcome carries the deadline cause.
                let reason: CancelReason? = status.code == .deadlineExceeded ? .deadlineExceeded : nil
                loop.complete(.failure(RPCError(code: status.code, message: status.message, metadata: metadata, cancelReason: reason)))
            }
        case .fail(let status, let reason):
            loop.complete(.failure(RPCError(code: status.code, message: status.message, cancelReason: reason)))
        case .failAndCancel(let status, let reason):
            self.scheduler.dropStream(loop.streamID)
            self.scheduler.writeControl(.cancel(streamID: loop.streamID, reason: reason))
            loop.complete(.failure(RPCError(code: status.code, message: status.message, cancelReason: reason)))
        }
        self.streams.removeValue(forKey: loop.streamID)
        self.scheduler.dropStream(loop.streamID)
        loop.connection = nil
        self.manager.streamEnded(call)
        if self.state == .draining && self.streams.isEmpty {
            self.flushNow()
            self.context?.close(promise: nil)
        }
    }

    // MARK: Writing

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
            for streamID in self.scheduler.pump(budget: 64 * 1024) {
                if let call = self.streams[streamID], let waiter = call.loop.writerWaiter,
                    self.scheduler.queuedBytes(of: streamID) <= ConnectionWriter.writerWatermark
                {
                    call.loop.writerWaiter = nil
                    waiter.resume()
                }
            }
        }
        guard self.scheduler.hasPendingBytes else { return }
        self.unflushedCancels = 0
        context.writeAndFlush(self.wrapOutboundOut(self.scheduler.takePending()), promise: nil)
        if self.scheduler.hasQueuedData && context.channel.isWritable { self.flushSoon() }
    }

    // MARK: Liveness

    private func scheduleKeepalive() {
        guard let keepalive = self.configuration.keepalive, let context = self.context else { return }
        self.keepaliveTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(keepalive.interval.nanoseconds)) { [self] in
            guard self.state == .ready || self.state == .draining else { return }
            let now = Int64(clamping: context.eventLoop.now.uptimeNanoseconds)
            self.scheduler.writeControl(.ping(PingFrame(payload: UInt64(bitPattern: now), ack: false)))
            self.flushNow()
            if self.pingTimeoutTimer == nil {
                self.pingTimeoutTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(keepalive.timeout.nanoseconds)) { [self] in
                    self.closeError = RPCError(code: .unavailable, message: "The server did not answer a keepalive ping within \(keepalive.timeout); the connection is considered dead.")
                    context.close(promise: nil)
                }
            }
            self.scheduleKeepalive()
        }
    }

    // MARK: Closing

    private func connectionError(_ error: WireError) {
        guard self.state != .closed, let context = self.context else { return }
        self.configuration.logger.debug("Closing connection: \(error)")
        self.scheduler.writeControl(
            .goAway(GoAway(lastStreamID: 0, code: error.goAwayCode ?? .protocolError, reason: error.message))
        )
        let bytes = self.scheduler.takePending()
        self.closeError = RPCError(code: .unavailable, message: "The connection was closed because the server broke the protocol: \(error.message)")
        self.state = .closed
        context.writeAndFlush(self.wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        self.failAll()
    }

    private func failAll() {
        let error = self.closeError ?? RPCError(code: .unavailable, message: "The connection to the server was lost.")
        for call in Array(self.streams.values) {
            self.perform(call.loop.machine.connectionClosed(error.status), call: call)
        }
    }

    private var closedOnce = false

    /// Whether the channel has closed and the manager was told (nothing about this connection is pending).
    var hasClosed: Bool { self.closedOnce }

    private func connectionClosed() {
        guard !self.closedOnce else { return }
        self.closedOnce = true
        self.state = .closed
        self.keepaliveTimer?.cancel()
        self.pingTimeoutTimer?.cancel()
        self.failAll()
        self.manager.connectionClosed(self, error: self.closeError)
        self.context = nil  // Breaks the handler ↔ context cycle: nothing runs on this connection any more.
    }

    /// Takes no new calls; closes once the open ones end.
    func retire() {
        if self.state == .ready { self.state = .draining }
        if self.streams.isEmpty { self.context?.close(promise: nil) }
    }

    /// Closes the connection now (client shutdown): open calls fail `unavailable`.
    func close() {
        self.context?.close(promise: nil)
    }
}
