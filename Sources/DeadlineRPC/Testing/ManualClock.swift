import NIOCore
import Synchronization

/// The seam DeadlineRPCTesting drives time through: inside a test's scope, ``Deadline/now()`` reads an event loop's
/// manual clock (a `NIOAsyncTestingEventLoop`, which is also the loop every in-process connection runs on), so a
/// handler, the runtime's timers and the test all see one clock that moves only when the test advances it.
///
/// Production never installs one: ``Deadline/now()`` then pays one relaxed atomic load (``installed`` is zero) and
/// never looks the task-local up.
@usableFromInline
package enum ManualClock {
    /// How many test environments with a manual clock are alive in the process; while zero, nobody reads ``loop``.
    @usableFromInline
    static let installed = Atomic<Int>(0)

    /// The loop whose clock ``Deadline/now()`` reads in this task (nil: the real monotonic clock).
    @TaskLocal package static var loop: (any EventLoop)?

    /// Counts a test environment in (``release()`` counts it out): from now on ``Deadline/now()`` looks for ``loop``.
    package static func retain() {
        Self.installed.wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    /// Counts a test environment out.
    package static func release() {
        Self.installed.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// The manual clock's reading when this task runs under one, else nil (read the real clock).
    @usableFromInline
    static func now() -> Deadline? {
        guard let loop = Self.loop else { return nil }
        return Deadline(loop.now)
    }

    /// Sleeps for `duration` on this task's clock: a timer on the manual clock's loop (it fires when the test
    /// advances past it) under one, else `Task.sleep`. Throws `CancellationError` when the task is cancelled.
    static func sleep(for duration: Duration) async throws {
        guard Self.installed.load(ordering: .relaxed) != 0, let loop = Self.loop else {
            return try await Task.sleep(for: duration)
        }
        let promise = loop.makePromise(of: Void.self)
        // Whichever of the timer and the cancellation comes first completes the promise; the other does nothing.
        let completed = Atomic<Bool>(false)
        let timer = loop.scheduleTask(in: .nanoseconds(duration.nanoseconds)) {
            if !completed.exchange(true, ordering: .acquiringAndReleasing) { promise.succeed() }
        }
        try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            timer.cancel()
            if !completed.exchange(true, ordering: .acquiringAndReleasing) { promise.fail(CancellationError()) }
        }
    }
}
