import Dispatch
import Synchronization

/// A task executor whose jobs wait while it is held, then run on Dispatch's global queue: a test keeps one task
/// (a server's `run()`, say) from running while the event loops and every other task go on — an ordering, not a
/// sleep.
final class HeldExecutor: TaskExecutor, Sendable {
    private let state = Mutex<(held: Bool, jobs: [UnownedJob])>((false, []))

    init() {}

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let runNow = self.state.withLock { state -> Bool in
            guard state.held else { return true }
            state.jobs.append(job)
            return false
        }
        if runNow { self.run(job) }
    }

    /// Jobs enqueued from now on wait for ``release()`` (a job already running goes on to its next suspension).
    func hold() {
        self.state.withLock { $0.held = true }
    }

    /// Runs the jobs that waited, in order, and every later one at once.
    func release() {
        let jobs = self.state.withLock { state -> [UnownedJob] in
            state.held = false
            defer { state.jobs = [] }
            return state.jobs
        }
        for job in jobs { self.run(job) }
    }

    private func run(_ job: UnownedJob) {
        DispatchQueue.global().async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
