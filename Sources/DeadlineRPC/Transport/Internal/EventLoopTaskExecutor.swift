import Wire
import NIOCore

/// Runs task jobs on a NIO event loop, so a handler task and the connection it serves share one thread: no
/// wake-up of Swift's cooperative pool, no lock hand-off, per call.
///
/// NIO's event loops are serial executors but not task executors; this adapter is the missing piece.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
