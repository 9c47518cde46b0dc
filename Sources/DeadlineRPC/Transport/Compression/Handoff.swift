import Synchronization

/// A value passed between a loop and the thread pool that is taken out exactly once, so the closure, future or
/// promise that carried it keeps no reference: a big message is then freed by whoever holds it last (its reader, or
/// the pool), never by NIO releasing a finished future's value or a callback's captures on the loop — freeing
/// megabytes there can trim the allocator's heap (`madvise`), which held a loop for over 1 ms in `compress-bench`.
final class Handoff<Value: Sendable>: Sendable {
    private let value: Mutex<Value?>

    init(_ value: Value) {
        self.value = Mutex(value)
    }

    /// The value the first time; nil after.
    func take() -> Value? {
        self.value.withLock { value in
            let taken = value
            value = nil
            return taken
        }
    }
}
