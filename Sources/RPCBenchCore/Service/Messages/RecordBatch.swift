/// A batch of handler records, as the records method streams them.
public struct RecordBatch: Sendable, Codable, Hashable {
    /// The records.
    public var records: [HandlerRecord]

    /// Creates a batch.
    public init(records: [HandlerRecord]) {
        self.records = records
    }
}
