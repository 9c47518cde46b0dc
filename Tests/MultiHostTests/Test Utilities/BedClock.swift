#if canImport(Glibc)
import Glibc
#endif

/// The test process's own clocks, read where the bed's processes read theirs.
enum BedClock {
    /// CLOCK_MONOTONIC in seconds.
    static var monotonic: Double { Self.read(CLOCK_MONOTONIC) }

    /// CLOCK_BOOTTIME in seconds (what /proc/uptime shows).
    static var boottime: Double { Self.read(CLOCK_BOOTTIME) }

    private static func read(_ clock: clockid_t) -> Double {
        var now = timespec()
        clock_gettime(clock, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
