#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// When each call of an open loop is due: call `k` at `start + k / rate`, whatever happened to the calls before
/// it. Latency is measured from this intended time, so a call held up by a stalled pacer, a full in-flight cap or
/// a slow server is charged for the wait (no coordinated omission, as in wrk2).
public struct OpenLoopSchedule: Sendable, Hashable {
    /// The intended time of call 0 (``BenchClock`` nanoseconds).
    public let start: Int64
    /// Calls per second.
    public let rate: Double
    /// Calls in the schedule.
    public let count: Int

    /// A schedule of `rate` calls per second for `duration`, starting at `start`.
    public init(start: Int64, rate: Double, duration: Duration) {
        precondition(rate > 0, "an open loop needs a positive rate")
        self.start = start
        self.rate = rate
        self.count = max(0, Int((duration.benchSeconds * rate).rounded(.up)))
    }

    /// Nanoseconds between two intended times.
    public var intervalNanoseconds: Double { 1e9 / self.rate }

    /// The intended send time of call `k`.
    public func intendedTime(of k: Int) -> Int64 {
        self.start + Int64((Double(k) * self.intervalNanoseconds).rounded())
    }

    /// How many calls are due at `now` (calls `0..<n` have intended times at or before `now`).
    public func dueCount(at now: Int64) -> Int {
        guard now >= self.start else { return 0 }
        var due = Int(Double(now - self.start) / self.intervalNanoseconds) + 1
        // Correct the floating-point estimate against the rounded intended times.
        while due > 0 && self.intendedTime(of: due - 1) > now { due -= 1 }
        while due < self.count && self.intendedTime(of: due) <= now { due += 1 }
        return min(due, self.count)
    }

    /// The latency of call `k` completed at `completedAt`: from its intended time, not from when it was sent.
    public func latency(of k: Int, completedAt: Int64) -> Int64 {
        completedAt - self.intendedTime(of: k)
    }
}

/// The shape of the victims' load.
public enum LoadShape: Sendable, Hashable, CustomStringConvertible {
    /// A fixed rate (calls per second), with at most `maxInFlight` calls outstanding; a call that waits for a free
    /// slot is charged for the wait.
    case open(rate: Double, maxInFlight: Int)
    /// `concurrency` callers, each sending its next call when the previous one ends; latency from the send.
    case closed(concurrency: Int)

    /// `open 2000/s` or `closed ×16`.
    public var description: String {
        switch self {
        case .open(let rate, _): return "open loop \(Int(rate))/s"
        case .closed(let concurrency): return "closed loop, \(concurrency) callers"
        }
    }
}

/// What a load run did besides the calls' own figures.
public struct LoadRunSummary: Sendable {
    /// Calls sent.
    public var calls: Int
    /// How late the pacer released each call after its intended time (open loop only; charged to the calls).
    public var pacerLateness: LatencyHistogram
    /// When the run started and ended (``BenchClock``).
    public var startedAt: Int64
    /// When the last call ended.
    public var endedAt: Int64
}

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

/// Counters shared by a run's caller tasks.
final class RunCounters: Sendable {
    /// When the first caller started (0 until then).
    let started = Atomic<Int64>(0)
    /// Calls sent.
    let sent = Atomic<Int>(0)
    /// The latest completion instant.
    let lastCompletion = Atomic<Int64>(0)

    /// The start instant: now for the first caller to ask, the same for every later one.
    func begin() -> Int64 {
        let now = BenchClock.now()
        let (exchanged, original) = self.started.compareExchange(expected: 0, desired: now, ordering: .relaxed)
        return exchanged ? now : original
    }
}

extension Atomic where Value == Int64 {
    /// Raises the value to `candidate` if it is larger.
    func max(_ candidate: Int64) {
        var current = self.load(ordering: .relaxed)
        while candidate > current {
            let (exchanged, original) = self.compareExchange(expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// A counting semaphore for tasks: at most `limit` holders; waiters resume in arrival order.
final class AsyncSlots: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }
    private let state: Mutex<State>

    /// Creates a semaphore with `limit` free slots.
    init(_ limit: Int) {
        self.state = Mutex(State(available: limit))
    }

    /// Takes a slot, waiting for one if none is free.
    func acquire() async {
        let acquired = self.state.withLock { state -> Bool in
            guard state.available > 0 else { return false }
            state.available -= 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = self.state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Returns a slot, handing it to the longest waiter if there is one.
    func release() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.head < state.waiters.count {
                let waiter = state.waiters[state.head]
                state.head += 1
                if state.head > 1_024 && state.head * 2 > state.waiters.count {
                    state.waiters.removeFirst(state.head)
                    state.head = 0
                }
                return waiter
            }
            state.available += 1
            return nil
        }
        waiter?.resume()
    }
}

/// The open loop's pacer: a dedicated thread that sleeps on the monotonic clock (absolute deadlines, timer slack
/// reduced to 1 ns where the system allows) and releases every call that has fallen due when it wakes.
final class Pacer: Sendable {
    private let schedule: OpenLoopSchedule
    private let tickets: AsyncStream<Int>.Continuation
    private let latenessHistogram = Mutex(LatencyHistogram())

    /// Creates a pacer that yields due call indices of `schedule` into `tickets`.
    init(schedule: OpenLoopSchedule, tickets: AsyncStream<Int>.Continuation) {
        self.schedule = schedule
        self.tickets = tickets
    }

    /// How late each call was released after its intended time.
    var lateness: LatencyHistogram { self.latenessHistogram.withLock { $0 } }

    /// Starts the pacer thread; it finishes `tickets` after the last call.
    func start() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "rpcbench-pacer"
        thread.start()
    }

    private func loop() {
        PreciseTimers.enableOnCurrentThread()
        var lateness = LatencyHistogram()
        var released = 0
        while released < self.schedule.count {
            let now = BenchClock.now()
            let due = self.schedule.dueCount(at: now)
            while released < due {
                lateness.record(nanoseconds: now - self.schedule.intendedTime(of: released))
                self.tickets.yield(released)
                released += 1
            }
            guard released < self.schedule.count else { break }
            PreciseTimers.sleep(untilMonotonic: self.schedule.intendedTime(of: released))
        }
        let recorded = lateness
        self.latenessHistogram.withLock { $0 = recorded }
        self.tickets.finish()
    }
}

/// Thread sleeps on the monotonic clock with as little timer slack as the system allows.
enum PreciseTimers {
    /// Sets the calling thread's timer slack to 1 ns (Linux's default of 50 µs would make every open-loop call up
    /// to 50 µs late). `prctl` is variadic, which Swift cannot call; its fixed five-integer form is looked up and
    /// called directly, which the Linux x86-64 and AArch64 calling conventions allow for integer arguments.
    static func enableOnCurrentThread() {
        #if os(Linux)
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        guard let symbol = dlsym(nil, "prctl") else { return }
        let prctl = unsafeBitCast(symbol, to: Prctl.self)
        let setTimerSlack: Int32 = 29  // PR_SET_TIMERSLACK
        _ = prctl(setTimerSlack, 1, 0, 0, 0)
        #endif
    }

    /// Sleeps until the monotonic clock (``BenchClock``) reads `instant`.
    static func sleep(untilMonotonic instant: Int64) {
        var target = timespec(tv_sec: Int(instant / 1_000_000_000), tv_nsec: Int(instant % 1_000_000_000))
        #if os(Linux)
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
        #else
        let remaining = instant - BenchClock.now()
        if remaining > 0 {
            var delay = timespec(tv_sec: Int(remaining / 1_000_000_000), tv_nsec: Int(remaining % 1_000_000_000))
            nanosleep(&delay, nil)
        }
        _ = target
        #endif
    }
}
