import NIOCore
import Wire

/// One stream's receiving side, shared by client and server: the credit window the peer must stay within, the
/// reassembly of split messages, and bounded decompression. Pure bookkeeping; the connection acts on the outcome.
struct InboundMessageReader {
    enum Outcome {
        /// A fragment of a larger message arrived: grant its bytes back at once (nothing can consume half a message).
        case fragment(bytes: Int)
        /// A whole message, decompressed.
        case message(ByteBuffer)
        /// A whole compressed message that inflates past the offload threshold, or a split one above the join
        /// threshold: to be inflated and/or joined off the loop, then handled as `message` (or `streamError` with
        /// ``streamError(_:)``'s status if it cannot be).
        case inflateOffLoop(DecompressionJob)
        /// The message is unusable; only this stream ends, with this status.
        case streamError(Status)
        /// The peer broke the protocol (credit, fragment rules): the connection ends.
        case connectionError(WireError)
    }

    private var assembler = MessageAssembler()
    /// Bytes the peer may still send before it needs more credit.
    private(set) var window: Int
    /// Consumed bytes not granted back yet.
    private var unreturned = 0

    init(window: Int) {
        self.window = window
    }

    /// Whether a message has begun but not completed (ending the stream now breaks framing).
    var isAssembling: Bool { self.assembler.isAssembling }

    mutating func receive(
        _ frame: MessageFrame,
        encoding: MessageEncoding,
        compressor: MessageCompressor,
        offload: CompressionOffload,
        maxMessageSize: Int,
        allocator: ByteBufferAllocator
    ) -> Outcome {
        let size = frame.data.readableBytes
        self.window -= size
        if self.window < 0 {
            return .connectionError(WireError(.flowControlViolation, "Stream \(frame.streamID) received \(-self.window) bytes beyond its credit."))
        }
        let assembled: MessageAssembler.Message?
        do throws(WireError) {
            assembled = try self.assembler.receive(frame, allocator: allocator)
        } catch {
            return .connectionError(error)
        }
        guard let message = assembled else { return .fragment(bytes: size) }
        // A split message arrives as its fragments (slices of the reads): joined here when small, on the pool with
        // its inflation, or alone above ``CompressionOffload/joinThreshold``, so no loop turn copies megabytes.
        let wireSize = message.isFragmented ? message.byteCount : 0
        if message.compressed {
            guard encoding != .identity else {
                return .streamError(Status(code: .internal, message: "A message was flagged compressed on a stream whose encoding is identity."))
            }
            let offLoop = offload.threshold < maxMessageSize
            // Bigger than the threshold as sent, it inflates past it (a sender compresses only when that shrinks the
            // message): straight to the pool, fragments and all, without a wasted start on the loop.
            if offLoop && wireSize > offload.threshold {
                offload.counters.decompressedOffLoop.add(1, ordering: .relaxed)
                return .inflateOffLoop(DecompressionJob(message: message, encoding: encoding, maxMessageSize: maxMessageSize))
            }
            // Inflated here only up to the threshold: a message that grows past it goes to the pool, which starts
            // over (at most `threshold` bytes of inflate wasted) with the real limit.
            let bytes = message.joined(allocator: allocator)
            let inflated: ByteBuffer
            do throws(WireError) {
                inflated = try compressor.decompress(
                    bytes, encoding: encoding, maxSize: offLoop ? offload.threshold : maxMessageSize, allocator: allocator
                )
            } catch {
                if offLoop && error.code == .decompressedMessageTooLarge {
                    offload.counters.decompressedOffLoop.add(1, ordering: .relaxed)
                    let whole = MessageAssembler.Message(bytes: bytes, compressed: true)
                    return .inflateOffLoop(DecompressionJob(message: whole, encoding: encoding, maxMessageSize: maxMessageSize))
                }
                offload.counters.decompressedOnLoop.add(1, ordering: .relaxed)
                return .streamError(Self.streamError(error))
            }
            offload.counters.decompressedOnLoop.add(1, ordering: .relaxed)
            return .message(inflated)
        }
        if wireSize > offload.joinThreshold {
            offload.counters.joinedOffLoop.add(1, ordering: .relaxed)
            return .inflateOffLoop(DecompressionJob(message: message, encoding: nil, maxMessageSize: maxMessageSize))
        }
        return .message(message.joined(allocator: allocator))
    }

    /// The status that ends a stream whose message could not be inflated (on the loop or off it).
    static func streamError(_ error: WireError) -> Status {
        Status(code: error.statusCode ?? .internal, message: error.message)
    }

    /// Records consumed bytes; returns the credit to grant once at least `threshold` bytes are owed.
    mutating func consumed(_ bytes: Int, threshold: Int) -> UInt32? {
        self.unreturned += bytes
        guard self.unreturned >= threshold else { return nil }
        let grant = self.unreturned
        self.window += grant
        self.unreturned = 0
        return UInt32(grant)
    }

    /// Forgets owed credit (the peer will send nothing more on the stream).
    mutating func dropOwedCredit() {
        self.unreturned = 0
    }
}

extension InboundMessageReader.Outcome {
    /// The whole message, or nil once the other outcomes went where both roles send them: a fragment's bytes to
    /// `grant` (credit back at once), a big compressed message to `inflateOffLoop` (which delivers it later), a
    /// stream error to `endStream`, a protocol error to `endConnection`.
    func message(
        grant: (Int) -> Void,
        inflateOffLoop: (DecompressionJob) -> Void,
        endStream: (Status) -> Void,
        endConnection: (WireError) -> Void
    ) -> ByteBuffer? {
        switch self {
        case .fragment(let bytes): grant(bytes)
        case .message(let bytes): return bytes
        case .inflateOffLoop(let job): inflateOffLoop(job)
        case .streamError(let status): endStream(status)
        case .connectionError(let error): endConnection(error)
        }
        return nil
    }
}
