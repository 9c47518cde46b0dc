import Wire
import NIOCore
import Synchronization

/// Messages received on one stream, produced on the event loop and consumed by a task, with flow control: the
/// consumer's progress is reported back (`onConsume`) so the connection grants the peer more credit only as the
/// consumer keeps up. A slow reader therefore holds at most one credit window of bytes.
///
/// What is reported is each message's *credit* — the wire bytes of it still charged against the window (its last
/// frame: earlier fragments were granted back on arrival) — never its size after reassembly and decompression,
/// which would grant the peer more than it spent and let its window grow without bound.
final class InboundMessageQueue: Sendable {
    private struct State {
        var buffer: CircularBuffer<(message: ByteBuffer, credit: Int)> = CircularBuffer(initialCapacity: 4)
        var waiter: CheckedContinuation<ByteBuffer?, any Error>?
        var end: Result<Void, RPCError>?
        /// The trailing metadata of a stream that ended with OK.
        var trailers = Metadata()
        /// Called (from the consumer's task) with the credit of each consumed message.
        var onConsume: (@Sendable (Int) -> Void)?
    }

    private let state: Mutex<State>

    init(onConsume: (@Sendable (Int) -> Void)? = nil) {
        self.state = Mutex(State(onConsume: onConsume))
    }

    /// Sets the consumption callback (once, before the first message).
    func setOnConsume(_ onConsume: @escaping @Sendable (Int) -> Void) {
        self.state.withLock { $0.onConsume = onConsume }
    }

    private func onConsume(_ bytes: Int) {
        self.state.withLock { $0.onConsume }?(bytes)
    }

    /// The trailing metadata the stream ended with (empty until it ended with OK).
    var trailers: Metadata { self.state.withLock { $0.trailers } }

    /// Adds a message (event loop side) with the wire bytes to grant back when it is consumed.
    func enqueue(_ message: ByteBuffer, credit: Int) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.state.withLock { state in
            guard state.end == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append((Self.compacted(message), credit))
            return nil
        }
        if let waiter {
            waiter.resume(returning: message)
            self.onConsume(credit)
        }
    }

    /// A message that is to wait in the queue, copied out of its receive read when it would otherwise keep more than
    /// twice its own size alive: a small message is a slice of the read it arrived in, and a slice pins the whole
    /// read (up to 64 KiB). Credit bounds the bytes of the messages a slow reader holds, so it also bounds the memory
    /// only if each message holds little more than itself; a peer that sends each small message in a read of its own
    /// would otherwise make one window of credit hold a thousand reads. A message handed straight to a waiting reader
    /// is not copied: it is decoded and dropped at once. Nor is a message over ``compactionLimit``: the copy runs on
    /// the event loop, and a big message pins at most a few times its size (a receive read is at most 64 KiB; a
    /// message reassembled from fragments has a buffer of its own).
    static func compacted(_ message: ByteBuffer) -> ByteBuffer {
        guard message.readableBytes <= Self.compactionLimit, message.storageCapacity > 2 * message.readableBytes else {
            return message
        }
        var copy = ByteBufferAllocator().buffer(capacity: message.readableBytes)
        copy.writeImmutableBuffer(message)
        return copy
    }

    /// The largest message ``compacted(_:)`` copies (16 KiB: a few microseconds of copying on the loop).
    static let compactionLimit = 16 * 1024

    /// Ends the stream: normally (`nil`) after the buffered messages, or at once with an error.
    func finish(_ error: RPCError? = nil, trailers: Metadata = Metadata()) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.state.withLock { state in
            guard state.end == nil else { return nil }
            if let error {
                state.end = .failure(error)
                state.buffer.removeAll()
            } else {
                state.end = .success(())
                state.trailers = trailers
            }
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    /// The next message, or nil at the end; throws the error the stream ended with, or `cancelled` when the
    /// consuming task is cancelled.
    func next() async throws -> ByteBuffer? {
        enum Immediate { case message(ByteBuffer, credit: Int), end, failure(RPCError), wait }
        let immediate: Immediate = self.state.withLock { state in
            if let entry = state.buffer.popFirst() { return .message(entry.message, credit: entry.credit) }
            switch state.end {
            case .success?: return .end
            case .failure(let error)?: return .failure(error)
            case nil: return .wait
            }
        }
        switch immediate {
        case .message(let message, let credit):
            self.onConsume(credit)
            return message
        case .end:
            return nil
        case .failure(let error):
            throw error
        case .wait:
            break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
                enum Outcome { case parked, message(ByteBuffer, credit: Int), end, failure(RPCError) }
                let outcome: Outcome = self.state.withLock { state in
                    if let entry = state.buffer.popFirst() { return .message(entry.message, credit: entry.credit) }
                    switch state.end {
                    case .success?: return .end
                    case .failure(let error)?: return .failure(error)
                    case nil:
                        if Task.isCancelled { return .failure(.cancelled(.cancelled)) }
                        state.waiter = continuation
                        return .parked
                    }
                }
                switch outcome {
                case .parked: break
                case .message(let message, let credit):
                    continuation.resume(returning: message)
                    self.onConsume(credit)
                case .end: continuation.resume(returning: nil)
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            let waiter = self.state.withLock { state in
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }
            waiter?.resume(throwing: RPCError.cancelled(.cancelled, "The task reading the stream was cancelled."))
        }
    }
}
