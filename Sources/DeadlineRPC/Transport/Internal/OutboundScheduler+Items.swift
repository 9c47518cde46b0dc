import NIOCore
import Wire

// A stream's waiting items, apart from the scheduler's ordering: what waits, and its bytes.
extension OutboundScheduler {
    /// One thing a stream has waiting to be written, in its order.
    enum Item {
        /// The rest of a message: `offset` bytes of `total` were already written.
        case message(ByteBuffer, total: UInt32, started: Bool, compressed: Bool, endStream: Bool)
        /// A frame that takes no credit but keeps its place behind the stream's data (call start, end, half-close).
        case frame(Frame)
        /// A message of `size` bytes being compressed off the loop: it holds its place, and everything behind it
        /// waits, until ``fillPending(streamID:token:_:compressed:)`` puts the bytes in.
        case pending(token: UInt64, size: Int, endStream: Bool)
    }

    /// A stream's waiting items and their bytes, behind one reference allocated only when something has to wait (a
    /// unary call's frames are written at once, so most streams never allocate one). A reference rather than the
    /// queue inline keeps a stream's entry in ``streams`` at 16 bytes: every in-flight call has one on each side,
    /// and the table is sized for the most calls a connection had at once (issue #19, goal 5).
    struct Items {
        private final class Storage {
            var buffer = CircularBuffer<Item>(initialCapacity: 2)
            /// Bytes of the queued messages not yet encoded.
            var queuedBytes = 0
        }

        private var storage: Storage? = nil

        var isEmpty: Bool { self.storage?.buffer.isEmpty ?? true }
        var first: Item? { self.storage?.buffer.first }

        /// Bytes of the queued messages not yet encoded (only messages add to it, so it is 0 without storage).
        var queuedBytes: Int {
            get { self.storage?.queuedBytes ?? 0 }
            nonmutating set {
                assert(self.storage != nil || newValue == 0, "OutboundScheduler: queued bytes without a queue")
                self.storage?.queuedBytes = newValue
            }
        }

        mutating func append(_ item: Item) {
            if self.storage == nil { self.storage = Storage() }
            self.storage!.buffer.append(item)
        }

        func removeFirst() {
            _ = self.storage?.buffer.removeFirst()
        }

        func replaceFirst(_ item: Item) {
            guard let storage = self.storage else { return }
            storage.buffer[storage.buffer.startIndex] = item
        }

        /// Calls `body` with each queued message's buffer and its size as sent.
        func forEachMessage(_ body: (ByteBuffer, _ total: UInt32) -> Void) {
            guard let buffer = self.storage?.buffer else { return }
            for case .message(let data, let total, _, _, _) in buffer { body(data, total) }
        }

        /// Replaces the pending item `token` with what `body` makes of it; false when there is none.
        func replacePending(_ token: UInt64, _ body: (_ size: Int, _ endStream: Bool) -> Item) -> Bool {
            guard let storage = self.storage else { return false }
            for index in storage.buffer.indices {
                if case .pending(token, let size, let endStream) = storage.buffer[index] {
                    storage.buffer[index] = body(size, endStream)
                    return true
                }
            }
            return false
        }
    }
}
