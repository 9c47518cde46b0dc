import NIOCore
import Wire

/// The write side of one connection, for either role: the ``OutboundScheduler`` (control frames first, per-stream
/// credit), the compression decision, the end-of-tick flush, the watermark that makes streaming writers wait, and
/// the `GOAWAY` that ends a connection for a protocol error.
///
/// Stored inline in its channel handler (a struct, created once per connection), so writing a call allocates
/// nothing it did not before. It holds no reference to the handler: operations that need the handler's per-call
/// state (which writer waits on which stream) return stream ids, and the handler resumes its own waiters.
/// Confined to the connection's event loop.
struct ConnectionWriter {
    /// Queued bytes per stream above which a streaming writer waits.
    static let writerWatermark = 64 * 1024
    /// Messages smaller than this are sent uncompressed even on a compressed stream: zlib would grow them.
    static let compressionThreshold = 128
    /// Bytes the scheduler moves into one write: big enough for a burst of replies, small enough that one busy
    /// connection does not hold the loop.
    static let pumpBudget = 64 * 1024

    /// The frames waiting to be written, by stream and priority.
    var scheduler: OutboundScheduler
    /// A flush is already scheduled for the end of this tick.
    private(set) var flushIsScheduled = false

    /// A writer with the protocol's default settings until the peer's arrive.
    init(allocator: ByteBufferAllocator) {
        self.scheduler = OutboundScheduler(
            allocator: allocator,
            maxFrameSize: Int(Settings.default.maxFrameSize),
            initialCredit: Int(Settings.default.initialStreamCredit)
        )
    }

    /// The peer's settings arrived: frame size and initial stream credit follow them.
    mutating func peerSettingsChanged(_ settings: Settings) {
        self.scheduler.maxFrameSize = Int(settings.maxFrameSize)
        self.scheduler.initialCredit = Int(settings.initialStreamCredit)
    }

    /// Queues one message on `streamID`, compressed with `encoding` when the peer accepts it, the message is big
    /// enough for zlib to pay, and the result is smaller; otherwise as it is. A message above the offload threshold
    /// is not compressed here: its place in the stream is held and the returned job must be run off the loop (see
    /// ``ConnectionFlushing/compressOffLoop(_:offload:)``), which fills it in. `opening`: the stream is live and may
    /// not have its write queue yet (``OutboundScheduler/openStream(_:)``).
    mutating func enqueueMessage(
        streamID: UInt32,
        _ message: ByteBuffer,
        encoding: MessageEncoding,
        peer: Settings,
        compressor: MessageCompressor,
        offload: CompressionOffload,
        allocator: ByteBufferAllocator,
        endStream: Bool,
        opening: Bool = false
    ) -> CompressionJob? {
        var bytes = message
        var compressed = false
        if encoding != .identity && peer.accepts(encoding) && bytes.readableBytes >= Self.compressionThreshold {
            if bytes.readableBytes > offload.threshold {
                guard let token = self.scheduler.enqueuePending(streamID: streamID, size: bytes.readableBytes, endStream: endStream, opening: opening) else {
                    return nil  // The stream ended: nothing to send.
                }
                offload.counters.compressedOffLoop.add(1, ordering: .relaxed)
                return CompressionJob(streamID: streamID, token: token, message: bytes, encoding: encoding)
            }
            offload.counters.compressedOnLoop.add(1, ordering: .relaxed)
            if let packed = try? compressor.compress(bytes, encoding: encoding, allocator: allocator),
                packed.readableBytes < bytes.readableBytes
            {
                bytes = packed
                compressed = true
            }
        }
        self.scheduler.enqueueMessage(streamID: streamID, bytes, compressed: compressed, endStream: endStream, opening: opening)
        return nil
    }

    /// Whether a streaming writer that just queued on `streamID` must wait for its queue to drain.
    func writerMustWait(_ streamID: UInt32, watermark: Int = Self.writerWatermark) -> Bool {
        // At 0, a queued zero-length message (which counts no bytes) must make the writer wait as well.
        watermark == 0 ? self.scheduler.hasQueuedFrames(streamID) : self.scheduler.queuedBytes(of: streamID) > watermark
    }

    /// Moves queued frames into the bytes to write, when there are some and the channel is writable. Returns the
    /// streams that progressed, empty when nothing moved: the handler resumes those of their waiting writers for
    /// which ``writerMustWait(_:)`` no longer holds.
    mutating func pump() -> [UInt32] {
        guard self.scheduler.hasQueuedData && self.scheduler.writable else { return [] }
        return self.scheduler.pump(budget: Self.pumpBudget)
    }

    /// Whether big messages were written or dropped since the last ``takeRetired()`` (one check per flush).
    var hasRetired: Bool { self.scheduler.hasRetired }

    /// The big messages written or dropped since the last call, for ``CompressionOffload/release(_:)``: pass the
    /// result straight there, without keeping a copy (a copy the loop drops last would free them on the loop).
    mutating func takeRetired() -> [ByteBuffer] {
        self.scheduler.takeRetired()
    }

    /// The bytes ready to write, taken; nil when there are none.
    mutating func takePending() -> ByteBuffer? {
        self.scheduler.hasPendingBytes ? self.scheduler.takePending() : nil
    }

    /// Whether frames still wait after a write to a `writable` channel: another flush should follow in the tick.
    func needsAnotherFlush(writable: Bool) -> Bool {
        self.scheduler.hasQueuedData && writable
    }

    /// Asks for a flush at the end of this tick, so every frame produced in the tick shares one write. True when the
    /// caller must schedule it (call ``scheduledFlushRuns()`` first thing in the scheduled job); false when one is
    /// already scheduled.
    mutating func requestFlushSoon() -> Bool {
        guard !self.flushIsScheduled else { return false }
        self.flushIsScheduled = true
        return true
    }

    /// The scheduled flush runs: a later ``requestFlushSoon()`` schedules another.
    mutating func scheduledFlushRuns() {
        self.flushIsScheduled = false
    }

    /// The bytes that end the connection for `error`: whatever was pending, then `GOAWAY` with `lastStreamID` and
    /// the error's code (``WireError/goAwayCode``, `PROTOCOL_ERROR` by default). Write them with
    /// ``writeThenClose(_:context:closeIfBlocked:)``.
    mutating func goAway(_ error: WireError, lastStreamID: UInt32) -> ByteBuffer {
        self.scheduler.writeControl(
            .goAway(GoAway(lastStreamID: lastStreamID, code: error.goAwayCode ?? .protocolError, reason: error.message))
        )
        return self.scheduler.takePending()
    }

    /// Writes `bytes` (a ``goAway(_:lastStreamID:)``) and closes the channel once they are written; when the peer
    /// does not read (`closeIfBlocked` and the channel is not writable) closes at once too, as the write would keep
    /// the connection pending forever. Static, so the write (which may call back into the handler) happens while
    /// no writer is being mutated.
    static func writeThenClose(_ bytes: ByteBuffer, context: ChannelHandlerContext, closeIfBlocked: Bool) {
        let peerReads = context.channel.isWritable
        context.writeAndFlush(NIOAny(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        if closeIfBlocked && !peerReads { context.close(promise: nil) }
    }
}
