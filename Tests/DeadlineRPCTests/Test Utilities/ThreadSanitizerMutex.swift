#if DRPC_TSAN_LOCKS
@testable import DeadlineRPC

/// In a `-DDRPC_TSAN_LOCKS` ThreadSanitizer build, `@testable import DeadlineRPC` shows its stand-in `Mutex` beside
/// `Synchronization.Mutex`; the tests take the stand-in too, so TSan sees their locks as well.
typealias Mutex = DeadlineRPC._ThreadSanitizerMutex
#endif
