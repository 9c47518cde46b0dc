#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// This process's memory, read from `/proc/self/status` (Linux); zero where that file does not exist.
public enum ProcessMemory {
    /// Resident set size now (`VmRSS`), in bytes.
    public static var residentBytes: Int { Self.field("VmRSS:") }

    /// Resident set size after returning the allocator's free memory to the system (`malloc_trim`, glibc), so
    /// that two readings compare memory in use rather than the allocator's high-water mark.
    public static var trimmedResidentBytes: Int {
        #if canImport(Glibc)
        // `malloc_trim` is not in Swift's Glibc module; it is a plain `int (size_t)` function, looked up by name.
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(nil, "malloc_trim") {
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        }
        #endif
        return Self.residentBytes
    }

    /// Peak resident set size (`VmHWM`), in bytes.
    public static var peakResidentBytes: Int { Self.field("VmHWM:") }

    /// Parses a `Name:   1234 kB` line of a `/proc/<pid>/status` text; returns bytes, or 0 when absent.
    public static func parseStatusField(_ name: String, in status: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            let fields = line.dropFirst(name.count).split(omittingEmptySubsequences: true) { $0 == " " || $0 == "\t" }
            guard let first = fields.first, let kib = Int(first) else { return 0 }
            return kib * 1024
        }
        return 0
    }

    private static func field(_ name: String) -> Int {
        // `/proc` files report a size of 0, so read until end of file rather than trusting the size.
        let descriptor = open("/proc/self/status", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return Self.parseStatusField(name, in: String(decoding: bytes, as: UTF8.self))
    }
}
