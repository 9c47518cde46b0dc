import Synchronization

/// Drives calls in an open or a closed loop and records their latency into per-shard ``LatencyRecorder``s
/// (call `k` goes to shard `k % recorders.count`; merge them with ``LatencyHistogram/merged(_:)``).
public struct LoadGenerator: Sendable {
    /// The load's shape.
    public var shape: LoadShape

    /// Creates a generator.
    public init(shape: LoadShape) {
        self.shape = shape
    }

    /// Runs `call` for `duration`; `call(k)` makes the k-th call and reports how it ended.
    public func run(
        for duration: Duration,
        recorders: [LatencyRecorder],
        call: @escaping @Sendable (Int) async -> CallOutcome
    ) async -> LoadRunSummary {
        precondition(!recorders.isEmpty, "at least one recorder")
        switch self.shape {
        case .open(let rate, let maxInFlight):
            let schedule = OpenLoopSchedule(start: BenchClock.now() + 1_000_000, rate: rate, duration: duration)
            return await Self.runOpen(schedule, maxInFlight: maxInFlight, recorders: recorders, call: call)
        case .closed(let concurrency):
            return await Self.runClosed(concurrency: concurrency, duration: duration, recorders: recorders, call: call)
        }
    }

    /// Runs an open loop over `schedule`: a pacer thread releases calls as they fall due, each call runs in its own
    /// child task once one of `maxInFlight` slots is free, and its latency is taken from its intended time.
    public static func runOpen(
        _ schedule: OpenLoopSchedule,
        maxInFlight: Int,
        recorders: [LatencyRecorder],
        call: @escaping @Sendable (Int) async -> CallOutcome
    ) async -> LoadRunSummary {
        let (tickets, continuation) = AsyncStream<Int>.makeStream(bufferingPolicy: .unbounded)
        let pacer = Pacer(schedule: schedule, tickets: continuation)
        pacer.start()
        let slots = AsyncSlots(max(1, maxInFlight))
        let counters = RunCounters()
        var sent = 0
        await withDiscardingTaskGroup { group in
            for await k in tickets {
                await slots.acquire()
                sent += 1
                group.addTask {
                    let outcome = await call(k)
                    let done = BenchClock.now()
                    recorders[k % recorders.count].record(
                        latencyNanoseconds: schedule.latency(of: k, completedAt: done),
                        outcome: outcome,
                        completedAt: done
                    )
                    counters.lastCompletion.max(done)
                    slots.release()
                }
            }
        }
        return LoadRunSummary(
            calls: sent,
            pacerLateness: pacer.lateness,
            startedAt: schedule.start,
            endedAt: max(schedule.start, counters.lastCompletion.load(ordering: .relaxed))
        )
    }

    /// Runs a closed loop: `concurrency` caller tasks, each looping until `duration` has passed since the first
    /// of them started (so a late start of the tasks does not shorten the run).
    public static func runClosed(
        concurrency: Int,
        duration: Duration,
        recorders: [LatencyRecorder],
        call: @escaping @Sendable (Int) async -> CallOutcome
    ) async -> LoadRunSummary {
        let callers = max(1, concurrency)
        let counters = RunCounters()
        let length = duration.benchNanoseconds
        await withDiscardingTaskGroup { group in
            for caller in 0..<callers {
                group.addTask {
                    let end = counters.begin() + length
                    var k = caller
                    while true {
                        let sentAt = BenchClock.now()
                        if sentAt >= end { break }
                        counters.sent.add(1, ordering: .relaxed)
                        let outcome = await call(k)
                        let done = BenchClock.now()
                        recorders[k % recorders.count].record(
                            latencyNanoseconds: done - sentAt,
                            outcome: outcome,
                            completedAt: done
                        )
                        counters.lastCompletion.max(done)
                        k += callers
                    }
                }
            }
        }
        let start = counters.started.load(ordering: .relaxed)
        return LoadRunSummary(
            calls: counters.sent.load(ordering: .relaxed),
            pacerLateness: LatencyHistogram(),
            startedAt: start,
            endedAt: max(start, counters.lastCompletion.load(ordering: .relaxed))
        )
    }
}
