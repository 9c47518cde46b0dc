import Synchronization

/// Process-wide call ids for logs.
final class CallIDGenerator: Sendable {
    private let counter = Atomic<UInt64>(0)
    init() {}
    func next() -> UInt64 { self.counter.wrappingAdd(1, ordering: .relaxed).newValue }
}
