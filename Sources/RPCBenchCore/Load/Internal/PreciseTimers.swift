#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
