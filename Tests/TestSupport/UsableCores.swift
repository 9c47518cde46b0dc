import Foundation

/// The CPUs this process may run on: its affinity mask (`Cpus_allowed_list` in `/proc/self/status`, as `taskset` or a
/// container's cpuset sets it). Swift's cooperative pool gets one thread per such CPU, as libdispatch reads the same
/// mask, while Foundation's `activeProcessorCount` and NIO's `System.coreCount` ignore it.
public var usableCores: Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
    else { return ProcessInfo.processInfo.activeProcessorCount }
    let list = line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
    return list.split(separator: ",").reduce(0) { count, range in
        let bounds = range.split(separator: "-").compactMap { Int($0) }
        guard let first = bounds.first else { return count }
        return count + (bounds.last! - first + 1)
    }
}
