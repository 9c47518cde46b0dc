#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DeadlineRPC
import Foundation

/// The serving process's memory and clock as a service's `/stats` reports them, so a load generator reads them
/// from the services themselves — and, with the process id, counts a process that hosts many services once.
package struct ProcessFigures: Codable, Sendable, Hashable {
    /// The process id.
    package var pid: Int32
    /// Resident set size now (`VmRSS`), in bytes; 0 where `/proc` does not exist.
    package var rssBytes: Int
    /// Peak resident set size (`VmHWM`), in bytes.
    package var peakRSSBytes: Int
    /// The monotonic clock (`Deadline`'s) when read, in nanoseconds: tells a caller whether it shares the clock.
    package var clockNanoseconds: Int64

    /// Creates figures.
    package init(pid: Int32, rssBytes: Int, peakRSSBytes: Int, clockNanoseconds: Int64) {
        self.pid = pid
        self.rssBytes = rssBytes
        self.peakRSSBytes = peakRSSBytes
        self.clockNanoseconds = clockNanoseconds
    }

    /// This process now; with `trimMemory`, after returning the allocator's free memory to the system
    /// (`malloc_trim`), so that two readings compare memory in use rather than the allocator's high-water mark.
    package static func current(trimMemory: Bool) -> ProcessFigures {
        #if canImport(Glibc)
        if trimMemory, let symbol = dlsym(nil, "malloc_trim") {
            // Not in Swift's Glibc module: a plain `int (size_t)` function, looked up by name.
            typealias MallocTrim = @convention(c) (Int) -> Int32
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        }
        #endif
        let status = Self.procStatus()
        return ProcessFigures(
            pid: getpid(),
            rssBytes: Self.kibField("VmRSS:", in: status),
            peakRSSBytes: Self.kibField("VmHWM:", in: status),
            clockNanoseconds: Deadline.now().uptimeNanoseconds
        )
    }

    /// `/proc/self/status` (read to end of file: `/proc` reports a size of 0), or "" where it does not exist.
    private static func procStatus() -> String {
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return "" }
        defer { try? handle.close() }
        return (try? handle.readToEnd()).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The bytes of a `Name:   1234 kB` line, or 0.
    private static func kibField(_ name: String, in status: String) -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
            let kib = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap({ Int($0) })
        else { return 0 }
        return kib * 1_024
    }
}
