import NIOCore
import Wire

/// Orders what a connection writes: control frames first, then message data from the streams round-robin, each
/// stream within the credit its peer granted, split at the peer's frame size so a cancel can always interleave.
///
/// Data is handed to the channel only while it is writable, so NIO's own buffer never holds more than about a
/// watermark of data ahead of a control frame; the rest waits here, per stream, where a cancelled stream's data
/// can be dropped before it is ever written.
struct OutboundScheduler {
    /// 16 bytes: the items' reference, the credit in 32 bits and two flags.
    private struct StreamQueue {
        var items = Items()
        /// The peer's credit left, at most `Settings.maxCredit` (2^31 - 1): the decoder refuses larger settings and
        /// ``addCredit(streamID:_:)`` larger windows, and only what it allows is spent, so it fits 32 bits.
        private var credit32: Int32
        var scheduled = false
        /// Remove the queue once it drains (its last item ends the stream for this side).
        var removeWhenDrained = false

        init(credit: Int) {
            self.credit32 = Int32(clamping: credit)
        }

        var credit: Int {
            get { Int(self.credit32) }
            set {
                assert(newValue >= 0 && newValue <= Int(Settings.maxCredit), "OutboundScheduler: credit out of range")
                self.credit32 = Int32(clamping: newValue)
            }
        }

        var queuedBytes: Int {
            get { self.items.queuedBytes }
            nonmutating set { self.items.queuedBytes = newValue }
        }
    }

    /// Encoded bytes ready for the next write.
    private(set) var pending: ByteBuffer
    private var streams: [UInt32: StreamQueue] = [:]
    private var ready = CircularBuffer<UInt32>(initialCapacity: 8)
    /// The peer's frame size limit.
    var maxFrameSize: Int
    /// The credit the peer grants each new stream.
    var initialCredit: Int
    /// Whether the channel accepts more data now.
    var writable = true

    /// Messages of at least this many bytes are not released here when written or dropped: freeing megabytes can
    /// make the allocator give memory back to the system on the spot (glibc trims its heap with `madvise`, tens of
    /// MiB at a time: over 1 ms on a loop). They wait in ``takeRetired()`` for the connection to release off the loop.
    static let retireThreshold = 128 * 1024
    /// Written or dropped messages of at least ``retireThreshold`` bytes, still referenced here.
    private var retired: [ByteBuffer] = []

    /// The next token for a message compressed off the loop.
    private var nextPendingToken: UInt64 = 0

    /// Where fresh `pending` buffers come from.
    private let allocator: ByteBufferAllocator
    /// The capacity of a fresh `pending` buffer; it grows as frames are written into it.
    static let pendingCapacity = 1024

    init(allocator: ByteBufferAllocator, maxFrameSize: Int, initialCredit: Int) {
        self.allocator = allocator
        self.pending = allocator.buffer(capacity: Self.pendingCapacity)
        self.maxFrameSize = maxFrameSize
        self.initialCredit = initialCredit
    }

    var hasPendingBytes: Bool { self.pending.readableBytes > 0 }
    /// Whether big messages wait in ``takeRetired()``.
    var hasRetired: Bool { !self.retired.isEmpty }

    /// Takes the big messages that were written or dropped: the caller drops these last references off the loop.
    mutating func takeRetired() -> [ByteBuffer] {
        var taken: [ByteBuffer] = []
        swap(&taken, &self.retired)
        return taken
    }

    /// Keeps the big messages of a stream being forgotten for ``takeRetired()``.
    private mutating func retire(_ queue: StreamQueue?) {
        guard let queue, !queue.items.isEmpty else { return }
        queue.items.forEachMessage { data, total in
            if total >= Self.retireThreshold { self.retired.append(data) }
        }
    }
    /// Streams holding a write queue (tests check when one is made and let go).
    var queueCount: Int { self.streams.count }

    /// Whether some stream has data waiting that could be sent once credit or writability allows.
    var hasQueuedData: Bool { !self.ready.isEmpty }

    /// Bytes a stream has queued (not yet encoded): the producer's backpressure signal.
    func queuedBytes(of streamID: UInt32) -> Int {
        self.streams[streamID]?.queuedBytes ?? 0
    }

    /// Takes the bytes to write.
    mutating func takePending() -> ByteBuffer {
        let bytes = self.pending
        if self.pending.capacity > Self.maxReusedCapacity {
            // A fresh small buffer: on storage shared with `bytes`, `clear()` allocates new storage as large as the
            // old one, so after one large burst every later write, however small, would carry a buffer of that
            // size — and a write buffer's watermark counts bytes, not capacity (the kill soak grew 3.7 GB).
            self.pending = self.allocator.buffer(capacity: Self.pendingCapacity)
        } else {
            // Reused at the next write: by then the channel has usually written `bytes` and let go of the storage,
            // so `clear()` costs no allocation (a write per flush on each side of every call otherwise allocates).
            self.pending.moveReaderIndex(forwardBy: self.pending.readableBytes)
            self.pendingTaken = true
        }
        return bytes
    }

    /// `pending` was handed to the channel and still shares its storage: cleared before the next frame is written.
    private var pendingTaken = false
    /// The largest `pending` kept for reuse.
    static let maxReusedCapacity = 16 * 1024

    /// Encodes `frame` at the end of `pending`.
    private mutating func write(_ frame: Frame) {
        self.reclaimPending()
        FrameEncoder.write(frame, into: &self.pending)
    }

    private mutating func reclaimPending() {
        if self.pendingTaken {
            self.pendingTaken = false
            self.pending.clear()
        }
    }

    /// Writes a control frame ahead of all queued data.
    mutating func writeControl(_ frame: Frame) {
        self.write(frame)
    }

    /// Registers a stream with the peer's initial credit, unless it already has a queue. A side may register a stream
    /// only when it first sends on it or is granted credit for it: a stream without a queue and a stream that ended
    /// both write a frame at once, and settings are never renegotiated, so a late queue starts with the same credit.
    /// A server call parked in its handler then holds no queue (issue #19, goal 5: 33 bytes per call).
    mutating func openStream(_ streamID: UInt32) {
        // One hash, not two (a look-up, then an insert): the defaulting subscript's in-place access inserts the
        // queue only when the stream has none.
        Self.mutate(&self.streams[streamID, default: StreamQueue(credit: self.initialCredit)]) { _ in }
    }

    /// Forgets a stream and drops its queued data (it was cancelled or ended by the peer).
    mutating func dropStream(_ streamID: UInt32) {
        self.retire(self.streams.removeValue(forKey: streamID))
    }

    /// Ends a stream with an error at once, whatever its credit (PROTOCOL.md §10.3): drops everything it still
    /// has queued and writes `end` (its `CALL_END`) now. When part of a message is already on the wire a `CALL_END`
    /// would break the peer's framing, so `cancel` is written instead. Returns whether it was the cancel.
    @discardableResult
    mutating func endStreamNow(_ streamID: UInt32, end: Frame, cancel: Frame) -> Bool {
        let partial = self.hasPartialMessage(streamID)
        self.retire(self.streams.removeValue(forKey: streamID))
        self.write(partial ? cancel : end)
        return partial
    }

    /// Whether the stream still has frames waiting here (for credit or writability).
    func hasQueuedFrames(_ streamID: UInt32) -> Bool {
        !(self.streams[streamID]?.items.isEmpty ?? true)
    }

    /// Queues a frame that must follow the stream's earlier data; `last` marks the stream's final frame from this
    /// side, after which the queue is forgotten. Returns whether the frame waits here (it was not written now).
    ///
    /// The stream's queue is found once and then reached by its index (each look-up by key hashes the id).
    @discardableResult
    mutating func enqueue(_ frame: Frame, last: Bool = false) -> Bool {
        guard let index = self.streams.index(forKey: frame.streamID) else {
            // No queue: nothing of this stream is waiting, so order is kept by writing now.
            self.write(frame)
            return false
        }
        if self.streams.values[index].items.isEmpty {
            self.write(frame)
            if last { self.streams.remove(at: index) }
            return false
        }
        // Mutated in place by its index: one hash for the look-up, none for the write-back.
        Self.mutate(&self.streams.values[index]) { queue in
            queue.items.append(.frame(frame))
            if last { queue.removeWhenDrained = true }
        }
        return true
    }

    /// The index of the stream's queue; with `opening`, a stream without one gets it (see ``openStream(_:)``), else
    /// nil means the stream ended. A stream that already has its queue costs one hash either way.
    private mutating func queueIndex(_ streamID: UInt32, opening: Bool) -> [UInt32: StreamQueue].Index? {
        if let index = self.streams.index(forKey: streamID) { return index }
        guard opening else { return nil }
        self.openStream(streamID)
        return self.streams.index(forKey: streamID)
    }

    /// Queues a message; it is written at once when nothing of the stream waits and credit allows. `opening`: the
    /// caller knows the stream is live, so a missing queue is one not made yet (``openStream(_:)``), not an ended
    /// stream's.
    mutating func enqueueMessage(streamID: UInt32, _ data: ByteBuffer, compressed: Bool, endStream: Bool, opening: Bool = false) {
        let size = data.readableBytes
        // Found once, then reached in place by its index (a look-up by key hashes the id).
        guard let index = self.queueIndex(streamID, opening: opening) else { return }  // The stream ended: drop.
        let fits = self.writable && size + 4 <= self.maxFrameSize
        let sendNow = Self.mutate(&self.streams.values[index]) { queue in
            guard fits && queue.items.isEmpty && size <= queue.credit else { return false }
            queue.credit -= size
            return true
        }
        if sendNow {
            self.write(.message(.whole(streamID: streamID, data, endStream: endStream, compressed: compressed)))
            // The side's last frame on the stream (a client's single request): nothing of it can follow but a
            // `CANCEL`, which takes no queue, so the queue goes now rather than with the call.
            if endStream { self.streams.remove(at: index) }
            return
        }
        let schedule = Self.mutate(&self.streams.values[index]) { queue in
            queue.items.append(
                .message(data, total: UInt32(size), started: false, compressed: compressed, endStream: endStream)
            )
            queue.queuedBytes += size
            if endStream { queue.removeWhenDrained = true }
            defer { queue.scheduled = true }
            return !queue.scheduled
        }
        if schedule { self.ready.append(streamID) }
    }

    /// Holds the place of a message of `size` bytes that is being compressed off the loop; returns its token for
    /// ``fillPending(streamID:token:_:compressed:)``, or nil when the stream has ended (nothing to compress).
    /// Frames and messages queued after it wait behind it, so the stream's order is kept.
    mutating func enqueuePending(streamID: UInt32, size: Int, endStream: Bool, opening: Bool = false) -> UInt64? {
        guard let index = self.queueIndex(streamID, opening: opening) else { return nil }
        self.nextPendingToken += 1
        let token = self.nextPendingToken
        Self.mutate(&self.streams.values[index]) { queue in
            queue.items.append(.pending(token: token, size: size, endStream: endStream))
            queue.queuedBytes += size
            if endStream { queue.removeWhenDrained = true }
        }
        return token
    }

    /// The bytes of pending message `token` are ready: they take its place. Returns false when the stream ended
    /// meanwhile (the result is dropped), true when the stream may have something to write now.
    @discardableResult
    mutating func fillPending(streamID: UInt32, token: UInt64, _ data: ByteBuffer, compressed: Bool) -> Bool {
        guard self.streams[streamID] != nil else { return false }
        let schedule: Bool? = Self.mutate(&self.streams[streamID]!) { queue in
            var oldSize = 0
            let found = queue.items.replacePending(token) { size, endStream in
                oldSize = size
                return .message(data, total: UInt32(data.readableBytes), started: false, compressed: compressed, endStream: endStream)
            }
            guard found else { return nil }
            queue.queuedBytes += data.readableBytes - oldSize
            guard !queue.scheduled, !Self.headIsPending(queue) else { return false }
            queue.scheduled = true
            return true
        }
        guard let schedule else { return false }
        if schedule { self.ready.append(streamID) }
        return true
    }

    private static func mutate<R>(_ queue: inout StreamQueue, _ body: (inout StreamQueue) -> R) -> R {
        body(&queue)
    }

    /// Adds credit the peer granted; returns false when the window would pass 2^31 - 1 (a flow-control error).
    mutating func addCredit(streamID: UInt32, _ bytes: UInt32) -> Bool {
        guard var queue = self.streams[streamID] else { return true }  // Ended stream: ignore.
        let credit = queue.credit + Int(bytes)
        if credit > Int(Settings.maxCredit) { return false }
        queue.credit = credit
        if !queue.items.isEmpty && !queue.scheduled && !Self.headIsPending(queue) {
            queue.scheduled = true
            self.ready.append(streamID)
        }
        self.streams[streamID] = queue
        return true
    }

    /// Moves queued data into `pending`, one frame per stream per round, until about `budget` bytes were added or
    /// nothing is sendable (callers check writability first). Returns the streams whose queues shrank, so
    /// waiting producers can be resumed.
    mutating func pump(budget: Int) -> [UInt32] {
        var drained: [UInt32] = []
        self.reclaimPending()  // So `start` is where this pump's frames begin.
        let start = self.pending.writerIndex
        // Terminates: a popped stream either writes a frame (finitely many) or is not put back.
        while self.pending.writerIndex - start < budget, let streamID = self.ready.popFirst() {
            // Found once and written back by index (the items are behind a reference, so the copy shares them).
            guard let index = self.streams.index(forKey: streamID) else { continue }
            var queue = self.streams.values[index]
            queue.scheduled = false
            let progressed = self.writeOneFrame(streamID: streamID, queue: &queue)
            if progressed { drained.append(streamID) }
            if queue.items.isEmpty && queue.removeWhenDrained {
                self.streams.remove(at: index)
                continue
            }
            if !queue.items.isEmpty && !Self.headIsPending(queue) && (queue.credit > 0 || Self.headNeedsNoCredit(queue)) {
                queue.scheduled = true
                self.ready.append(streamID)
            }
            self.streams.values[index] = queue
        }
        return drained
    }

    /// Frames and empty messages take no credit, so they can go out with none left.
    private static func headNeedsNoCredit(_ queue: StreamQueue) -> Bool {
        switch queue.items.first {
        case .frame?: return true
        case .message(let data, _, _, _, _)?: return data.readableBytes == 0
        case .pending?, nil: return false
        }
    }

    /// The stream waits for a message being compressed off the loop: nothing of it can be written until it is in.
    private static func headIsPending(_ queue: StreamQueue) -> Bool {
        if case .pending? = queue.items.first { return true }
        return false
    }

    /// Whether part of a message of this stream was written and the rest still waits: ending the stream now with
    /// anything but `CANCEL` would leave the peer with half a message.
    func hasPartialMessage(_ streamID: UInt32) -> Bool {
        guard let queue = self.streams[streamID], case .message(_, _, let started, _, _)? = queue.items.first else {
            return false
        }
        return started
    }

    /// Writes the head of the queue (a whole frame item, or one credit-limited fragment of a message).
    private mutating func writeOneFrame(streamID: UInt32, queue: inout StreamQueue) -> Bool {
        guard let head = queue.items.first else { return false }
        switch head {
        case .pending:
            return false
        case .frame(let frame):
            queue.items.removeFirst()
            self.write(frame)
            return true
        case .message(var data, let total, let started, let compressed, let endStream):
            let room = started ? self.maxFrameSize : self.maxFrameSize - 4
            let chunkSize = min(room, data.readableBytes, queue.credit)
            // A zero-length message still needs its one frame; otherwise wait for credit.
            if chunkSize == 0 && data.readableBytes > 0 { return false }
            let chunk = data.readSlice(length: chunkSize)!
            let more = data.readableBytes > 0
            queue.credit -= chunkSize
            queue.queuedBytes -= chunkSize
            self.write(
                .message(
                    MessageFrame(
                        streamID: streamID,
                        messageLength: started ? nil : total,
                        data: chunk,
                        more: more,
                        endStream: endStream && !more,
                        compressed: !started && compressed
                    )
                )
            )
            if more {
                queue.items.replaceFirst(.message(
                    data,
                    total: total,
                    started: true,
                    compressed: compressed,
                    endStream: endStream
                ))
            } else {
                if total >= Self.retireThreshold { self.retired.append(data) }
                queue.items.removeFirst()
            }
            return true
        }
    }
}
