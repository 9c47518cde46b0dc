import Synchronization

/// Items handed to one event loop from other threads, in order, with one `execute` per batch instead of one per
/// item: under load the loop picks up every call start or handler outcome that arrived since it last looked, and
/// no closure is allocated per item.
///
/// The owner does the scheduling: ``push(_:)`` says when the batch needs a drain job, and the job calls
/// ``takeAll(_:)`` on the loop.
final class LoopInbox<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        /// Handed back by the drain to be filled next, so a steady flow reuses two arrays.
        var spare: [Item] = []
        var drainScheduled = false
    }

    private let state = Mutex(State())

    /// Adds an item; returns true when the caller must schedule a drain job on the loop (none is pending).
    func push(_ item: Item) -> Bool {
        self.state.withLock { state in
            state.items.append(item)
            if state.drainScheduled { return false }
            state.drainScheduled = true
            return true
        }
    }

    /// Whether nothing is queued or about to be drained (so an item may be handled at once, in order).
    var isIdle: Bool {
        self.state.withLock { !$0.drainScheduled }
    }

    /// Takes every queued item (on the loop, from the drain job) and passes them to `body` in order. Items pushed
    /// while `body` runs schedule a new drain.
    func takeAll(_ body: ([Item]) -> Void) {
        var batch = self.state.withLock { state -> [Item] in
            state.drainScheduled = false
            var batch: [Item] = []
            swap(&batch, &state.spare)  // Moved out, not copied, so the next appends find it uniquely referenced.
            swap(&batch, &state.items)
            return batch
        }
        body(batch)
        batch.removeAll(keepingCapacity: batch.capacity <= 1024)
        self.state.withLock { state in
            if state.spare.capacity < batch.capacity { state.spare = batch }
        }
    }
}
