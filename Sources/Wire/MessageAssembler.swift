import NIOCore

/// Reassembles one stream's messages from `MESSAGE` and `MESSAGE_CONTINUATION` frames.
///
/// The declared length on the first frame was already checked against the message limit by the decoder; this
/// type checks that the fragments add up to exactly that length, and holds at most one message's bytes.
public struct MessageAssembler: Sendable {
    /// A complete message.
    public struct Message: Sendable, Hashable {
        /// The message bytes as sent (still compressed if `compressed`).
        public var bytes: ByteBuffer
        /// Whether the bytes are compressed with the stream's encoding.
        public var compressed: Bool

        /// Creates a message.
        public init(bytes: ByteBuffer, compressed: Bool) {
            self.bytes = bytes
            self.compressed = compressed
        }
    }

    private var pending: ByteBuffer?
    private var expected: Int = 0
    private var pendingCompressed = false

    /// Creates an assembler with no message in progress.
    public init() {}

    /// Whether a message has begun but not completed.
    public var isAssembling: Bool { self.pending != nil }

    /// Feeds one frame; returns the message when its last fragment arrives.
    /// - Throws: `protocolViolation` when fragments do not follow the rules (a continuation without a message, a
    ///   new message inside another, more bytes than declared, or the last fragment short of the declared length).
    public mutating func receive(_ frame: MessageFrame) throws(WireError) -> Message? {
        if let length = frame.messageLength {
            if self.pending != nil {
                throw WireError(.protocolViolation, "Stream \(frame.streamID) began a new message before the previous one was complete.")
            }
            if !frame.more {
                return Message(bytes: frame.data, compressed: frame.compressed)
            }
            self.expected = Int(length)
            self.pendingCompressed = frame.compressed
            // Hold only what arrived; appending grows the buffer by doubling. Reserving the declared length up front
            // would let a peer make us hold the whole message limit per stream for one small frame, ahead of credit.
            self.pending = frame.data
            return nil
        }
        guard var buffer = self.pending else {
            throw WireError(.protocolViolation, "Stream \(frame.streamID) sent MESSAGE_CONTINUATION without a message in progress.")
        }
        self.pending = nil  // Keep the buffer uniquely referenced while appending.
        var data = frame.data
        if buffer.readableBytes + data.readableBytes > self.expected {
            throw WireError(.protocolViolation, "Stream \(frame.streamID) sent more message bytes than the \(self.expected) it declared.")
        }
        buffer.writeBuffer(&data)
        let complete = buffer.readableBytes == self.expected
        if complete == frame.more {
            throw WireError(.protocolViolation, "Stream \(frame.streamID)'s message fragments do not add up to the declared \(self.expected) bytes.")
        }
        if complete {
            return Message(bytes: buffer, compressed: self.pendingCompressed)
        }
        self.pending = buffer
        return nil
    }
}
