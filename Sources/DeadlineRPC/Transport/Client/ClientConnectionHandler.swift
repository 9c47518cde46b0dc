import Logging
import NIOCore
import Synchronization
import Wire

/// One client connection: multiplexes every call as a stream, decodes the server's frames, enforces each call's
/// deadline on this host's clock, and sends a typed `CANCEL` the moment a call is cancelled or expires.
///
/// Confined to its channel's event loop, like everything it touches.
///
/// Properties marked `@exclusivity(unchecked)` skip Swift's run-time exclusivity check, which cost about a fifth of
/// an echo call's instructions (a thread-local access-set insert and removal per read or write; see
/// docs/PERFORMANCE.md, issue #19 "Throughput"). Sound because each is read and written only on the event loop, and
/// no access to one spans a call that could reach the same property again: the reader, writer, deadline timer,
/// slots, guard and queues are pure values holding no reference back to this handler (closures they take are
/// escaping ones that run in a later loop job).
final class ClientConnectionHandler: ChannelDuplexHandler, ConnectionFlushing {
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

    let configuration: RPCClient.Configuration
    let manager: ClientConnectionManager
    /// The endpoint this connection goes to (nil for a test's own connection: the manager's only endpoint).
    @exclusivity(unchecked) var endpoint: EndpointConnection?
    /// Set while the handler is in the pipeline and its channel open: dropped when the channel closes, because the
    /// context holds its handler too and NIO does not break that cycle (every closed connection, its decoder buffer
    /// and queues, stayed in memory: ~40 KiB per connection killed in the kill soak).
    @exclusivity(unchecked) var context: ChannelHandlerContext?
    @exclusivity(unchecked) var allocator = ByteBufferAllocator()
    /// The decoder, the server's settings and the "never opened" rule, shared with the server's handler.
    @exclusivity(unchecked) var reader: FrameReader
    /// The write side (scheduler, compression, flush, GOAWAY), shared with the server's handler; made again with
    /// the channel's allocator once the handler is added. Not optional: reading through an optional struct copies
    /// it (a retain per reference it holds).
    @exclusivity(unchecked) var writer = ConnectionWriter(allocator: ByteBufferAllocator())
    let compressor = MessageCompressor()
    /// Where messages above the threshold are compressed and inflated.
    let offload: CompressionOffload
    /// A received message is being inflated off the loop: no further frame is handled until it is delivered, so
    /// every stream's order holds and the unread bytes wait in the decoder and the socket.
    @exclusivity(unchecked) var inboundPaused = false
    /// A read was asked for while inbound handling was paused: issued when it resumes.
    @exclusivity(unchecked) var readHeld = false
    @exclusivity(unchecked) var streams: [UInt32: ClientCall] = [:]
    @exclusivity(unchecked) var nextStreamID: UInt32 = 1
    /// The server's settings: the protocol's defaults until its `SETTINGS` arrive.
    var peerSettings: Settings { self.reader.peerSettings }
    @exclusivity(unchecked) var state: State = .awaitingSettings
    var keepaliveTimer: Scheduled<Void>?
    var pingTimeoutTimer: Scheduled<Void>?
    /// Whether the server was heard from, and whether a keepalive `PING` waits for its answer.
    @exclusivity(unchecked) var keepaliveProbe = KeepaliveProbe()
    @exclusivity(unchecked) var closeError: RPCError?
    /// The server's verified certificate (TLS), set when the handshake completes; its calls report it.
    @exclusivity(unchecked) var serverIdentity: PeerIdentity?
    /// Whether any byte has arrived (the first ones are checked for a TLS record: a TLS server on a plaintext client).
    @exclusivity(unchecked) var receivedBytes = false
    /// The last measured round-trip time of a keepalive ping.
    private(set) var roundTripTime: Duration?

    /// Cancels written since the last flush (see `cancelsPerFlush`).
    @exclusivity(unchecked) var unflushedCancels = 0
    /// Calls a deadline's `CANCEL` ended in this tick, completed after the end-of-tick flush has written it
    /// (``cancelWrittenAtTickEnd(_:_:)``).
    @exclusivity(unchecked) var endsAtTickEnd: [(ClientCall, RPCError)] = []
    /// The channel closed and the manager was told: later close events change nothing.
    @exclusivity(unchecked) var closedOnce = false

    /// Client connection handlers alive in the process (created and not yet deinitialized): a leak probe for tests.
    static let liveInstances = Atomic<Int>(0)

    init(configuration: RPCClient.Configuration, manager: ClientConnectionManager) {
        self.configuration = configuration
        self.manager = manager
        self.reader = FrameReader(role: .client, limits: configuration.limits)
        self.offload = CompressionOffload(
            threshold: configuration.compressionOffloadThreshold, threadPool: .singleton, counters: manager.stats.compression,
            willCompress: configuration.compressionProbe
        )
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
        self.writer = ConnectionWriter(allocator: context.channel.allocator)
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
        let bytes = self.unwrapInboundIn(data)
        self.keepaliveProbe.heardFromPeer()
        let first = !self.receivedBytes
        self.receivedBytes = true
        if first, !self.configuration.transportSecurity.usesTLS, Self.looksLikeTLS(bytes) {
            self.closeError = RPCError(code: .unavailable, message: "the server answered with TLS, and this client is configured for plaintext (set `transportSecurity` to `.tls`)")
            self.state = .closed
            context.close(promise: nil)
            self.failAll()
            return
        }
        self.reader.append(bytes)
        self.decodeFrames()
    }

    /// Handles the buffered frames, unless a message being inflated off the loop holds them back.
    func decodeFrames() {
        do {
            while self.state != .closed, !self.inboundPaused, let decoded = try self.reader.nextFrame() {
                switch decoded {
                case .frame(let frame): self.handle(frame)
                case .streamError(let streamID, _, let error): self.handleStreamError(streamID: streamID, error: error)
                }
            }
        } catch {
            self.connectionError(error)
        }
    }

    /// Holds socket reads while a message is inflated off the loop: the server's later bytes wait in its socket.
    func read(context: ChannelHandlerContext) {
        if self.inboundPaused {
            self.readHeld = true
            return
        }
        context.read()
    }

    /// A TLS record header (alert 0x15 or handshake 0x16, version 0x03 …) where the server's preface belongs.
    static func looksLikeTLS(_ bytes: ByteBuffer) -> Bool {
        guard let head = bytes.getBytes(at: bytes.readerIndex, length: min(2, bytes.readableBytes)), head.count == 2 else { return false }
        return (head[0] == 0x15 || head[0] == 0x16) && head[1] == 0x03
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushNow()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.writer.scheduler.writable = context.channel.isWritable
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
        // ClientTLSHandler's errors already name their cause; the first error is the one calls are told.
        if let error = error as? RPCError {
            if self.closeError == nil { self.closeError = error }
        } else {
            self.closeError = RPCError(code: .unavailable, message: "The connection failed: \(error).", cause: error)
        }
        context.close(promise: nil)
    }

    // MARK: Frames from the server

    func handle(_ frame: Frame) {
        switch frame {
        case .settings(let settings):
            self.reader.settingsReceived(settings, writer: &self.writer)
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
            if !self.writer.scheduler.addCredit(streamID: streamID, bytes) {
                self.connectionError(WireError(.flowControlViolation, "Stream \(streamID)'s credit passed 2^31 - 1."))
            }
        case .ping(let ping):
            if ping.ack {
                if self.keepaliveProbe.acknowledged() {
                    // The keepalive's ping: answered, so the next interval starts now.
                    self.pingTimeoutTimer?.cancel()
                    self.pingTimeoutTimer = nil
                    self.scheduleKeepalive()
                }
                let sent = Int64(bitPattern: ping.payload)
                self.roundTripTime = .nanoseconds(Int64(clamping: self.manager.eventLoop.now.uptimeNanoseconds) - sent)
            } else {
                self.writer.scheduler.writeControl(.ping(PingFrame(payload: ping.payload, ack: true)))
            }
        case .goAway(let goAway):
            self.handleGoAway(goAway)
        case .callStart, .halfClose:
            self.connectionError(WireError(.protocolViolation, "A server sent \(frame.type) on stream \(frame.streamID); only clients start calls and half-close."))
        }
    }

    /// The call a frame refers to; nil (frame dropped and counted) for an ended stream, a goaway for one never opened.
    func stream(_ streamID: UInt32, type: FrameType) -> ClientCall? {
        self.reader.stream(
            self.streams[streamID], type, streamID: streamID, mark: self.nextStreamID,
            late: { self.manager.lateFrameDropped() }, violation: { self.connectionError($0) }
        )
    }

    func handleStreamError(streamID: UInt32, error: WireError) {
        guard let call = self.stream(streamID, type: .callEnd) else { return }
        let status = Status(code: error.statusCode ?? .internal, message: "The server's reply was refused: \(error.message)")
        self.perform(call.loop.machine.streamError(status), call: call)
    }

    func handleMessage(_ frame: MessageFrame) {
        guard let call = self.stream(frame.streamID, type: frame.type) else { return }
        let loop = call.loop
        let outcome = loop.inbound.receive(
            frame, encoding: call.encoding, compressor: self.compressor, offload: self.offload,
            maxMessageSize: self.configuration.limits.maxMessageSize, allocator: self.allocator
        )
        guard let message = outcome.message(
            grant: { self.grantCredit(call, bytes: $0, force: true) },
            inflateOffLoop: { self.inflateOffLoop($0, call: call, credit: frame.data.readableBytes, endStream: frame.endStream) },
            endStream: { self.perform(loop.machine.streamError($0), call: call) },
            endConnection: { self.connectionError($0) }
        ) else { return }
        // The last frame's bytes are what the message still holds of the window (earlier fragments went back).
        self.deliver(message, credit: frame.data.readableBytes, endStream: frame.endStream, call: call)
    }

    /// Inflates a big response on the pool. Until it is delivered no further frame of the connection is handled
    /// (``inboundPaused``): the call's `CALL_END` and later messages must follow it. The caller's cancel and the
    /// deadline still act at once; the inflated message of a call that ended meanwhile is dropped.
    func inflateOffLoop(_ job: DecompressionJob, call: ClientCall, credit: Int, endStream: Bool) {
        guard let eventLoop = self.context?.eventLoop else { return }  // The channel closed: the call ends with it.
        self.inboundPaused = true
        // In a handoff both ways: the fragments are let go on the pool, and the future keeps no copy of the message
        // for the loop to free after the caller is done with it.
        let pending = Handoff(job)
        self.offload.threadPool.runIfActive(eventLoop: eventLoop) { pending.take().map { Handoff($0.run()) } }
            .assumeIsolated()
            .whenComplete { result in
                // A pool that is not running never took the job: the loop does the work, as before the offload.
                // Exactly one of the two holds a value (the pool returns a handoff whenever it took the job).
                guard let inflated = (try? result.get())?.take() ?? pending.take()?.run() else { return }
                self.inflated(inflated, call: call, credit: credit, endStream: endStream)
            }
    }

    /// The big response is inflated: delivered (or the call ended, as on the loop), then the frames behind it.
    func inflated(_ result: Result<ByteBuffer, WireError>, call: ClientCall, credit: Int, endStream: Bool) {
        self.inboundPaused = false
        guard self.state != .closed else { return }
        let loop = call.loop
        if self.streams[loop.streamID] === call {
            switch result {
            case .success(let message):
                self.deliver(message, credit: credit, endStream: endStream, call: call)
            case .failure(let error):
                self.perform(loop.machine.streamError(InboundMessageReader.streamError(error)), call: call)
            }
        }
        self.decodeFrames()
        if self.readHeld, self.state != .closed, !self.inboundPaused, let context = self.context {
            self.readHeld = false
            context.read()
        }
        self.flushNow()
    }

    /// A whole response for `call`; `credit` wire bytes go back to the server once it is read.
    func deliver(_ message: ByteBuffer, credit: Int, endStream: Bool, call: ClientCall) {
        let loop = call.loop
        switch loop.machine.receiveMessage(endStream: endStream) {
        case .deliver:
            if let onMessage = loop.onMessage {
                // The runtime's own call consumes each message at once: its credit goes back at once too.
                onMessage(message)
                self.grantCredit(call, bytes: credit, force: false)
            } else if let responses = loop.responses {
                responses.enqueue(message, credit: credit)
            } else {
                loop.singleResponse = message
            }
        case let other:
            self.perform(other, call: call)
        }
    }

    func grantCredit(_ call: ClientCall, bytes: Int, force: Bool) {
        let loop = call.loop
        guard !loop.machine.isClosed else { return }
        let threshold = force ? 1 : self.configuration.initialStreamCredit / 2
        if let grant = loop.inbound.consumed(bytes, threshold: threshold) {
            self.writer.scheduler.writeControl(.credit(streamID: loop.streamID, bytes: grant))
        }
    }

    /// The caller consumed a streamed response: grant its bytes back once half a window has been read.
    func responseConsumed(_ call: ClientCall, bytes: Int) {
        guard self.streams[call.loop.streamID] === call else { return }
        self.grantCredit(call, bytes: bytes, force: false)
        self.flushSoon()
    }

    func handleGoAway(_ goAway: GoAway) {
        if goAway.code != .noError {
            self.configuration.logger.warning("The server closed the connection: \(goAway.code): \(goAway.reason)")
        }
        if goAway.code == .tooManyPings { self.manager.pingsRefused() }
        // The keepalive goes on while the open calls finish: a server that vanishes mid-drain is found as before.
        self.state = self.state == .closed ? .closed : .draining
        // Tell the manager first: failing the last open call below closes the connection on the spot, and a
        // connection reported draining after it closed would be waited for by close() forever.
        self.manager.connectionDraining(self)
        // Calls above the last accepted id were never processed: one whose whole request the runtime still holds
        // goes again, to another endpoint or a fresh connection (a transparent retry, safe for any method); the
        // others fail `unavailable`, safe to retry.
        for (streamID, call) in self.streams where streamID > goAway.lastStreamID {
            let loop = call.loop
            if !loop.requeuedOnce, loop.machine.requeueUnprocessed(resendable: call.firstRequest != nil) {
                loop.requeuedOnce = true
                self.streams.removeValue(forKey: streamID)
                self.writer.scheduler.dropStream(streamID)
                loop.connection = nil
                self.manager.requeueUnprocessed(call)
                continue
            }
            let status = Status(code: .unavailable, message: "The server is closing the connection (\(goAway.code): \(goAway.reason)); the call was not processed.")
            self.perform(loop.machine.connectionClosed(status), call: call)
        }
        if self.streams.isEmpty { self.context?.close(promise: nil) }
    }

    // MARK: Outcomes

    /// Carries out what the machine decided for a call on a stream; an ending settles the stream here, then tells
    /// the manager once (``ClientConnectionManager/streamEnded(_:)``), which settles the deadline and the count.
    func perform(_ action: CallStateMachine.Client.Action, call: ClientCall, metadata: Metadata = Metadata()) {
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
            self.writer.scheduler.dropStream(loop.streamID)
            self.writer.scheduler.writeControl(.cancel(streamID: loop.streamID, reason: reason))
            LatencyTrace.mark(.cancelQueued, self)
            // On the wire before the caller resumes (a task wake-up the loop thread may be preempted by), so the
            // server stops the handler sooner. The stream is settled first: a write that fails at once closes
            // the connection, which then finds no stream of this call to fail a second time.
            self.streams.removeValue(forKey: loop.streamID)
            loop.connection = nil
            let error = RPCError(code: status.code, message: status.message, cancelReason: reason)
            if Self.cancelWaitsForTickEnd(reason) {
                self.cancelWrittenAtTickEnd(call, error)
            } else {
                self.cancelWritten()
                loop.complete(.failure(error))
            }
        }
        self.streams.removeValue(forKey: loop.streamID)
        self.writer.scheduler.dropStream(loop.streamID)
        loop.connection = nil
        self.manager.streamEnded(call)
        if self.state == .draining && self.streams.isEmpty {
            self.flushNow()
            self.context?.close(promise: nil)
        }
    }
}
