import Foundation
import Synchronization

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
