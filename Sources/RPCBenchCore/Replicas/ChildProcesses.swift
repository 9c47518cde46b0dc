#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// The child processes this process has started and not yet seen exit, so that every way out of `rpcbench` — a
/// normal end, an error, SIGINT, SIGTERM or SIGHUP — kills them. (Children also exit by themselves when this process
/// dies by SIGKILL: they run `serve --exit-with-stdin`, and the kernel closes their standard input.)
public final class ChildProcesses: Sendable {
    /// The process-wide registry.
    public static let shared = ChildProcesses()

    private let pids = Mutex<Set<Int32>>([])
    private let installed = Mutex(false)

    /// The write end of the pipe the signal handler writes the signal's number to: set once, before the handler is
    /// installed (the `signal` call orders the store before any run of the handler), and never changed after, so
    /// the handler's unsynchronized read is safe. A signal handler may only call async-signal-safe functions
    /// (`write`), so the work is done by a thread reading the other end.
    nonisolated(unsafe) private static var signalPipeWriteEnd: Int32 = -1

    private init() {}

    /// Children registered and not yet unregistered.
    public var live: Set<Int32> { self.pids.withLock { $0 } }

    /// Records a started child.
    public func register(_ pid: Int32) {
        _ = self.pids.withLock { $0.insert(pid) }
    }

    /// Forgets a child that has exited.
    public func unregister(_ pid: Int32) {
        _ = self.pids.withLock { $0.remove(pid) }
    }

    /// Sends SIGKILL to every registered child (without waiting: the caller is usually about to exit).
    public func killAll() {
        for pid in self.live { kill(pid, SIGKILL) }
    }

    /// From now on SIGINT, SIGTERM and SIGHUP kill every registered child, then end this process with status
    /// 128 + the signal's number, as the default action would have. Idempotent.
    public func installSignalHandlers() {
        let first = self.installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        // Not inherited by the replicas this process starts.
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        let readEnd = ends[0]
        Self.signalPipeWriteEnd = ends[1]
        // A thread of its own: it blocks in read until a signal comes.
        Thread.detachNewThread {
            var signalNumber: UInt8 = 0
            while read(readEnd, &signalNumber, 1) < 0 && errno == EINTR {}
            ChildProcesses.shared.killAll()
            exit(128 + Int32(signalNumber))
        }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(ChildProcesses.signalPipeWriteEnd, &byte, 1)
            }
        }
    }

    /// Whether a process with `pid` exists now (a zombie counts: it has not been reaped).
    public static func exists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
