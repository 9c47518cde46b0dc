#if DRPC_TSAN_LOCKS
#if canImport(Glibc)
import Glibc
#endif

/// Only in a ThreadSanitizer build made with `-Xswiftc -DDRPC_TSAN_LOCKS`: `Mutex` means ``_ThreadSanitizerMutex``
/// across this module (and the tests', which declare the same alias). TSan cannot see `Synchronization.Mutex` on
/// Linux and reports every critical section as a race (docs/RELIABILITY.md, "ThreadSanitizer"); a pthread mutex,
/// which TSan intercepts, lets it check the code the locks guard. A normal build never compiles this.
///
typealias Mutex = _ThreadSanitizerMutex

/// A pthread mutex around a value, with `Synchronization.Mutex`'s `withLock` (the `DRPC_TSAN_LOCKS` build only).
/// Public so the test module can alias it too; underscored, as it is no API.
///
/// `@unchecked Sendable` is sound because `value` is read and written only inside `withLock`, between
/// `pthread_mutex_lock` and `pthread_mutex_unlock` of `mutex`, and `mutex` is a `let`: one pthread mutex at one
/// address, made in `init` before the object is shared and destroyed in `deinit` after the last reference is gone.
/// A value that is not `Sendable` is never shared either: it enters only as `sending` (`init`, the end of `body`)
/// and leaves only as `sending` (`withLock`'s result), as with `Synchronization.Mutex`, which is `Sendable` too.
public final class _ThreadSanitizerMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// A lock around `value`.
    public init(_ value: sending Value) {
        self.value = value
        self.mutex = .allocate(capacity: 1)
        pthread_mutex_init(self.mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(self.mutex)
        self.mutex.deallocate()
    }

    /// Runs `body` with the value, the lock held.
    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body(&self.value)
    }
}
#endif
