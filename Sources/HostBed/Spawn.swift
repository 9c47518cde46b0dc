import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starting child processes with no signal blocked, one at a time.
///
/// A child inherits the signal mask of the thread that spawns it, and the threads of Dispatch and of Swift's
/// cooperative pool block nearly every signal: a child spawned there (`sleep`, `dnsmasq`) never sees the SIGTERM
/// or SIGHUP the bed sends it. So every child is spawned from a thread of its own whose mask is empty.
///
/// Spawns never overlap: Foundation's `Process.run()` makes the socket pair through which it learns of a child's
/// exit without close-on-exec, and closes the parent's other descriptors in the child from a list it takes before
/// spawning. Two overlapping `run()`s can hand one child's socket to the other child, and the first child's exit then
/// goes unnoticed until the second one ends (a drained replica "still running" while its sibling serves on).
enum Spawn {
    /// Held around every `Process.run()` of the bed.
    private static let serial = NSLock()

    /// Runs `process.run()` on a new thread with an empty signal mask; returns once it has started (or throws
    /// what `run()` threw).
    static func start(_ process: Process) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread.detachNewThread {
                var none = sigset_t()
                sigemptyset(&none)
                pthread_sigmask(SIG_SETMASK, &none, nil)
                do {
                    try Self.serial.withLock { try process.run() }
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// ``start(_:)`` for a caller that may block (a Dispatch thread): waits on a semaphore.
    static func startBlocking(_ process: Process) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = SpawnFailure()
        Thread.detachNewThread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            do {
                try Self.serial.withLock { try process.run() }
            } catch {
                failure.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }

    /// `run()`'s error, handed from the spawning thread to the waiting one.
    // Written by the spawning thread before `done.signal()`, read by the waiter after `done.wait()`: the
    // semaphore orders the two accesses.
    private final class SpawnFailure: @unchecked Sendable {
        var error: (any Error)?
    }
}
