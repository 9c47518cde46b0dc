import Wire

/// The request metadata of one attempt while the instrument and the propagated keys write into it.
///
/// Writers only append, and the caller's entries come first, so where an existing entry sits says who wrote it:
/// a collision can name both writers without recording anything per entry (no allocation on the hot path).
struct InjectionCarrier {
    /// A second writer for a key already present: the call fails instead of either value being dropped.
    struct Collision {
        var key: String
        var first: MetadataWriter
        var second: MetadataWriter
    }

    /// An injected entry the metadata rules forbid (the caller's entries are validated before injection).
    struct InvalidEntry {
        var writer: MetadataWriter
        var error: WireError
    }

    private(set) var metadata: Metadata
    /// Entries before this index are the caller's.
    private let callerEntries: Int
    private(set) var collision: Collision?
    private(set) var invalidEntry: InvalidEntry?

    init(callerMetadata: Metadata) {
        self.metadata = callerMetadata
        self.callerEntries = callerMetadata.count
    }

    /// Whether a write was refused (the call must fail and send nothing).
    var failed: Bool { self.collision != nil || self.invalidEntry != nil }

    /// Appends `value` unless the key is already present or the entry breaks the metadata rules; the first such
    /// problem is kept and later writes are ignored (the call fails anyway).
    mutating func write(_ value: Metadata.Value, forKey key: String, by writer: MetadataWriter = .instrument) {
        guard !self.failed else { return }
        for (index, entry) in self.metadata.enumerated() where entry.key == key {
            // Propagated keys have distinct wire names and write last, so an earlier injected entry is the
            // instrument's.
            self.collision = Collision(key: key, first: index < self.callerEntries ? .caller : .instrument, second: writer)
            return
        }
        if let error = Metadata.validate(key: key, value: value) {
            self.invalidEntry = InvalidEntry(writer: writer, error: error)
            return
        }
        self.metadata.add(value, forKey: key)
    }
}
