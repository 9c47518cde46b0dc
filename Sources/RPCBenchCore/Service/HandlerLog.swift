import Synchronization

/// The handler records of one server, appended by handlers and drained by the bench after each phase.
public final class HandlerLog: Sendable {
    private let records = Mutex<[HandlerRecord]>([])

    /// Creates an empty log with room for `capacity` records before it grows.
    public init(capacity: Int = 16_384) {
        self.records.withLock { $0.reserveCapacity(capacity) }
    }

    /// Appends one record.
    public func append(_ record: HandlerRecord) {
        self.records.withLock { $0.append(record) }
    }

    /// Appends the record of a tracked call's handler (tag ≠ 0; victims are not tracked) that ends now.
    public func record(
        _ request: BenchRequest,
        hop: Int,
        startedAt: Int64,
        cancelledAt: Int64,
        outcome: CooperativeWork.Outcome
    ) {
        let endedAt = BenchClock.now()
        guard request.tag != 0 else { return }
        self.append(
            HandlerRecord(
                tag: request.tag,
                hop: hop,
                startedAt: startedAt,
                cancelledAt: cancelledAt,
                observedAt: outcome.observedCancellationAt,
                endedAt: endedAt,
                completed: outcome.completed
            )
        )
    }

    /// Returns every record so far and empties the log (keeping its storage).
    public func drain() -> [HandlerRecord] {
        self.records.withLock { records in
            let drained = records
            records.removeAll(keepingCapacity: true)
            return drained
        }
    }

    /// The number of records waiting to be drained.
    public var count: Int { self.records.withLock { $0.count } }
}
