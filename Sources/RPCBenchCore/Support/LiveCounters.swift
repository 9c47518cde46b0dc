import Synchronization

/// Counters the progress line reads while a phase runs.
public final class LiveCounters: Sendable {
    private let victims = Atomic<Int>(0)
    private let victimErrors = Atomic<Int>(0)
    private let storm = Atomic<Int>(0)

    /// Creates zeroed counters.
    public init() {}

    /// One victim call ended.
    public func victimCompleted(failed: Bool) {
        self.victims.add(1, ordering: .relaxed)
        if failed { self.victimErrors.add(1, ordering: .relaxed) }
    }

    /// One storm call ended.
    public func stormCompleted() {
        self.storm.add(1, ordering: .relaxed)
    }

    /// Resets every counter (at the start of a phase).
    public func reset() {
        self.victims.store(0, ordering: .relaxed)
        self.victimErrors.store(0, ordering: .relaxed)
        self.storm.store(0, ordering: .relaxed)
    }

    /// Victim calls ended so far.
    public var victimCalls: Int { self.victims.load(ordering: .relaxed) }
    /// Victim calls failed so far.
    public var victimFailures: Int { self.victimErrors.load(ordering: .relaxed) }
    /// Storm calls ended so far.
    public var stormCalls: Int { self.storm.load(ordering: .relaxed) }
}
