import Synchronization

/// The client-side records of a phase's storm calls.
public final class StormLog: Sendable {
    private let records = Mutex<[StormCallRecord]>([])
    private let tags = Atomic<UInt64>(0)

    /// Creates an empty log.
    public init() {}

    /// A fresh tag (never 0).
    public func nextTag() -> UInt64 {
        self.tags.add(1, ordering: .relaxed).newValue
    }

    /// Appends one record.
    public func append(_ record: StormCallRecord) {
        self.records.withLock { $0.append(record) }
    }

    /// Returns every record so far and empties the log.
    public func drain() -> [StormCallRecord] {
        self.records.withLock { records in
            defer { records.removeAll(keepingCapacity: true) }
            return records
        }
    }
}
