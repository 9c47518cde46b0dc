import NIOCore

/// Reassembles one stream's messages from `MESSAGE` and `MESSAGE_CONTINUATION` frames.
///
/// The declared length on the first frame was already checked against the message limit by the decoder; this
/// type checks that the fragments add up to exactly that length, and holds at most one message's bytes.
///
/// A split message is kept as its list of fragments, not copied into one buffer: on an event loop, joining a 4 MiB
/// message (and the doubling reallocations of growing one buffer to hold it) took milliseconds in one go, so the
/// join is left to whoever takes the message (``Message/joined(allocator:)``, off the loop for a big one). A fragment
/// is kept as the slice of the received bytes it is when that pins little memory beside it; small fragments, and
/// slices of storage much larger than themselves, are copied into chunks the assembler owns, so the memory held for
/// a message stays within twice its bytes plus ``pinnedSlack`` and one chunk, however a peer splits it.
public struct MessageAssembler: Sendable {
    /// A complete message.
    public struct Message: Sendable, Hashable {
        /// The first fragment (the whole message when it came in one frame).
        private var head: ByteBuffer
        /// The later fragments, in order; empty for a message in one frame (no allocation).
        private var tail: [ByteBuffer]
        /// Whether the bytes are compressed with the stream's encoding.
        public var compressed: Bool

        /// Creates a message held in one buffer.
        public init(bytes: ByteBuffer, compressed: Bool) {
            self.head = bytes
            self.tail = []
            self.compressed = compressed
        }

        /// Creates a message from its fragments, in order (the first one may be empty).
        public init(fragments: [ByteBuffer], compressed: Bool) {
            self.head = fragments.first ?? ByteBuffer()
            self.tail = Array(fragments.dropFirst())
            self.compressed = compressed
        }

        /// The message's bytes as received (still compressed if `compressed`), in order.
        public var fragments: [ByteBuffer] { [self.head] + self.tail }

        /// Whether the bytes are in more than one buffer: reading ``bytes`` then copies them all.
        public var isFragmented: Bool { !self.tail.isEmpty }

        /// The message's length in bytes.
        public var byteCount: Int {
            self.tail.reduce(self.head.readableBytes) { $0 + $1.readableBytes }
        }

        /// The message bytes in one buffer: as they are for a message in one frame, a copy of every fragment for a
        /// split one (``joined(allocator:)``). Setting it replaces the message with one buffer.
        public var bytes: ByteBuffer {
            get { self.joined() }
            set {
                self.head = newValue
                self.tail = []
            }
        }

        /// The message bytes in one buffer; a split message is copied into a new buffer of exactly its length.
        public func joined(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
            guard !self.tail.isEmpty else { return self.head }
            var joined = allocator.buffer(capacity: self.byteCount)
            joined.writeImmutableBuffer(self.head)
            for fragment in self.tail { joined.writeImmutableBuffer(fragment) }
            return joined
        }

        /// Equal when the bytes and the flag are, however the bytes are split.
        public static func == (lhs: Message, rhs: Message) -> Bool {
            lhs.compressed == rhs.compressed && lhs.byteCount == rhs.byteCount && lhs.joined() == rhs.joined()
        }

        /// Hashes the joined bytes, so equal messages hash alike however they were split.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(self.compressed)
            hasher.combine(self.joined())
        }
    }

    /// Fragments smaller than this are copied into an owned chunk rather than kept as slices: a slice costs an array
    /// entry and pins its storage, a copy this small costs nothing worth saving.
    public static let minimumSlice = 1024
    /// The capacity of a chunk the assembler copies fragments into (less when the message needs less).
    public static let ownedChunk = 64 * 1024
    /// Storage held beyond twice the message's bytes before fragments are copied instead of sliced.
    public static let pinnedSlack = 64 * 1024

    /// The message in progress; nil when none is. Behind one reference made when a message arrives split, so an
    /// assembler is 8 bytes between messages: a runtime keeps one per stream on each side, for every call in flight.
    private var progress: Progress?

    /// A split message being assembled.
    ///
    /// `@unchecked Sendable` is sound because it is copy-on-write: an assembler mutates its progress only after
    /// ``MessageAssembler/uniqueProgress()`` found it uniquely referenced (or copied it), so an instance two
    /// assemblers share — the only kind two threads could reach — is never mutated.
    private final class Progress: @unchecked Sendable {
        /// The fragments so far, in order.
        var fragments: [ByteBuffer] = []
        var received = 0
        let expected: Int
        let compressed: Bool
        /// Bytes of storage the fragments keep alive (each slice's storage counted once per run of slices that
        /// share it, each owned chunk's capacity).
        var pinned = 0
        /// Whether the last fragment is a chunk this assembler allocated (it may take copies while it has room).
        var tailIsOwned = false
        /// The identity of the storage object of the last fragment when it is a slice, to count a run of slices of
        /// one read once (compared only while that fragment keeps the storage alive, so it cannot be reused).
        var lastStorage: UInt?

        init(expected: Int, compressed: Bool) {
            self.expected = expected
            self.compressed = compressed
        }

        func copy() -> Progress {
            let copy = Progress(expected: self.expected, compressed: self.compressed)
            copy.fragments = self.fragments
            copy.received = self.received
            copy.pinned = self.pinned
            copy.tailIsOwned = self.tailIsOwned
            copy.lastStorage = self.lastStorage
            return copy
        }

        /// Adds one fragment's bytes: kept as the slice it is when it is big enough and the storage it pins stays
        /// within the bound, copied into an owned chunk otherwise.
        func append(_ data: ByteBuffer, allocator: ByteBufferAllocator) {
            let count = data.readableBytes
            guard count > 0 else { return }
            defer { self.received += count }
            if count >= MessageAssembler.minimumSlice {
                let storage = data.withUnsafeReadableBytesWithStorageManagement { UInt(bitPattern: $1.toOpaque()) }
                let newStorage = storage != self.lastStorage || self.tailIsOwned ? data.storageCapacity : 0
                if self.pinned + newStorage <= 2 * (self.received + count) + MessageAssembler.pinnedSlack {
                    self.fragments.append(data)
                    self.pinned += newStorage
                    self.tailIsOwned = false
                    self.lastStorage = storage
                    return
                }
            }
            if self.tailIsOwned, let last = self.fragments.indices.last, self.fragments[last].writableBytes >= count {
                self.fragments[last].writeImmutableBuffer(data)
                return
            }
            // A new chunk never outgrows the declared length: the message's own bytes bound what is reserved.
            let capacity = min(self.expected - self.received, max(count, MessageAssembler.ownedChunk))
            var chunk = allocator.buffer(capacity: capacity)
            chunk.writeImmutableBuffer(data)
            self.fragments.append(chunk)
            self.pinned += chunk.capacity
            self.tailIsOwned = true
            self.lastStorage = nil
        }
    }

    /// Creates an assembler with no message in progress.
    public init() {}

    /// Whether a message has begun but not completed.
    public var isAssembling: Bool { self.progress != nil }

    /// Bytes of storage the message in progress keeps alive (0 when none is): at most twice its bytes received so far
    /// plus ``pinnedSlack`` and one ``ownedChunk`` (or the fragment that needed a bigger one).
    public var pinnedBytes: Int { self.progress?.pinned ?? 0 }

    /// Drops the message in progress, if any (its stream ended): its fragments are released now.
    public mutating func reset() {
        self.progress = nil
    }

    /// The progress, copied first if another assembler shares it (copy-on-write).
    private mutating func uniqueProgress() -> Progress? {
        if self.progress != nil && !isKnownUniquelyReferenced(&self.progress) {
            self.progress = self.progress!.copy()
        }
        return self.progress
    }

    /// Feeds one frame; returns the message when its last fragment arrives. Small fragments are copied into chunks
    /// from `allocator`.
    /// - Throws: `protocolViolation` when fragments do not follow the rules (a continuation without a message, a
    ///   new message inside another, more bytes than declared, or the last fragment short of the declared length).
    public mutating func receive(
        _ frame: MessageFrame,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(WireError) -> Message? {
        if let length = frame.messageLength {
            if self.progress != nil {
                throw WireError(.protocolViolation, "Stream \(frame.streamID) began a new message before the previous one was complete.")
            }
            if !frame.more {
                return Message(bytes: frame.data, compressed: frame.compressed)
            }
            // Hold only what arrived. Reserving the declared length up front would let a peer make us hold the whole
            // message limit per stream for one small frame, ahead of credit.
            let progress = Progress(expected: Int(length), compressed: frame.compressed)
            progress.append(frame.data, allocator: allocator)
            self.progress = progress
            return nil
        }
        guard let progress = self.uniqueProgress() else {
            throw WireError(.protocolViolation, "Stream \(frame.streamID) sent MESSAGE_CONTINUATION without a message in progress.")
        }
        let data = frame.data
        if progress.received + data.readableBytes > progress.expected {
            throw WireError(.protocolViolation, "Stream \(frame.streamID) sent more message bytes than the \(progress.expected) it declared.")
        }
        let complete = progress.received + data.readableBytes == progress.expected
        if complete == frame.more {
            throw WireError(.protocolViolation, "Stream \(frame.streamID)'s message fragments do not add up to the declared \(progress.expected) bytes.")
        }
        progress.append(data, allocator: allocator)
        guard complete else { return nil }
        self.progress = nil
        return Message(fragments: progress.fragments, compressed: progress.compressed)
    }
}
