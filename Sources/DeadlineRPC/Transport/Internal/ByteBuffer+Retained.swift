import NIOCore

extension ByteBuffer {
    /// Messages at most this long are copied out of a read that is much bigger than they are (``retainable(allocator:)``):
    /// the copy costs about a microsecond on the loop at this size.
    static let maxRetainedCopy = 16 * 1024
    /// Storage a message may keep alive beside its own bytes before it is copied out.
    static let retainedSlack = 1024

    /// The message as a handler or caller should keep it: a message decoded in one piece is a slice of the read it
    /// came in, and while anyone holds the slice the whole read stays allocated. A parked handler holding a 64-byte
    /// request kept a 16 KiB read alive, shared with the calls beside it, and the channel could not reuse the read
    /// buffer (issue #19, goal 5). So a small message that pins storage beyond twice its size plus
    /// ``retainedSlack`` is copied into a buffer of its own; a big one, or one that fills its storage, is kept as is.
    func retainable(allocator: ByteBufferAllocator) -> ByteBuffer {
        let count = self.readableBytes
        guard count <= Self.maxRetainedCopy, self.storageCapacity > 2 * count + Self.retainedSlack else { return self }
        var copy = allocator.buffer(capacity: count)
        copy.writeImmutableBuffer(self)
        return copy
    }
}
