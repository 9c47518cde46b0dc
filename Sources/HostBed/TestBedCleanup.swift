import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Removing beds: this process's own when their test ends, and leftovers of crashed runs (their owner process is
/// gone) before the first bed of a process is made.
enum TestBedCleanup {
    private static let swept = Mutex(false)

    /// Kills every process left in `namespaces`, deletes them and `links`, and removes their `/etc/netns` folders
    /// and the bed's folder for `tag`. Goes on past failures; returns them.
    static func remove(_ namespaces: [String], links: [String], tag: String?) async -> [String] {
        guard let ip = Command.find("ip") else { return ["`ip` is not installed"] }
        var problems: [String] = []
        let existing = Set(await Self.namespaces())
        for namespace in namespaces where existing.contains(namespace) {
            // Strays the bed did not start itself (a server's own children, dnsmasq) are killed where they are.
            let pids = await Command.result(ip, ["netns", "pids", namespace]).output.split(whereSeparator: \.isNewline)
            for pid in pids.compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        // Links first, each deletion synchronous (a veth takes its peer inside the namespace with it): deleting a
        // namespace would remove its veths too, but later, from a kernel work queue.
        let existingLinks = Set(await Self.links())
        for link in links where existingLinks.contains(link) {
            let deleted = await Command.result(ip, ["link", "delete", link])
            if deleted.status != 0 { problems.append("ip link delete \(link): \(deleted.output)") }
        }
        for namespace in namespaces where existing.contains(namespace) {
            let deleted = await Command.result(ip, ["netns", "delete", namespace])
            if deleted.status != 0 { problems.append("ip netns delete \(namespace): \(deleted.output)") }
        }
        for namespace in namespaces {
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespace)")
        }
        if let tag { try? FileManager.default.removeItem(atPath: "/tmp/\(tag)") }
        return problems
    }

    /// Once per process: ``sweep()``.
    static func sweepOnce() async {
        let first = Self.swept.withLock { swept in
            defer { swept = true }
            return !swept
        }
        guard first else { return }
        let removed = await Self.sweep()
        // Standard error: the demo's standard output is its table.
        if !removed.isEmpty {
            FileHandle.standardError.write(Data("TestBed: removed leftovers of earlier runs: \(removed.joined(separator: " "))\n".utf8))
        }
    }

    /// Removes every bed whose owner process no longer runs (a run that crashed or was killed before its
    /// cleanup), whatever it left: namespaces with their processes, links, /etc/netns folders, /tmp folders. Beds
    /// of live processes (this one, a parallel test run) are left alone. Returns the names removed.
    static func sweep() async -> [String] {
        let stale: (String) -> Bool = { name in
            guard let owner = TestBedLayout.owner(of: name) else { return false }
            return owner != getpid() && !Self.isAlive(owner)
        }
        let namespaces = await Self.namespaces().filter(stale)
        let links = await Self.links().filter(stale)
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []).filter(stale)
        let tags = ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter(stale)
        _ = await Self.remove(namespaces + folders, links: links, tag: nil)
        for tag in tags { try? FileManager.default.removeItem(atPath: "/tmp/\(tag)") }
        return Array(Set(namespaces + links + folders + tags)).sorted()
    }

    /// Whether `pid` runs (a zombie does not: its owner crashed and nobody reaped it).
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return true
        }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    /// Every named network namespace.
    static func namespaces() async -> [String] {
        guard let ip = Command.find("ip") else { return [] }
        // Lines read `NAME` or `NAME (id: N)`.
        return await Command.result(ip, ["netns", "list"]).output.split(whereSeparator: \.isNewline).compactMap {
            $0.split(separator: " ").first.map(String.init)
        }
    }

    /// Every link of the root namespace.
    static func links() async -> [String] {
        guard let ip = Command.find("ip") else { return [] }
        // Lines read `N: NAME: <…` or `N: NAME@PEER: <…`.
        return await Command.result(ip, ["-o", "link", "show"]).output.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2)
            guard fields.count >= 2 else { return nil }
            return String(fields[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first ?? "")
        }
    }
}
