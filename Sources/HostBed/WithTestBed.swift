import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Builds a bed of `hosts` hosts (host N's processes with `clockOffsets[N - 1]`, zero where not given), starts
/// its DNS server, runs `body`, and removes everything again — processes, proxies, namespaces, veths, bridge,
/// `/etc/netns` folders, files — whether `body` returns, throws or is cancelled. A failed removal fails the test.
///
/// The first bed of a process also removes beds left by earlier runs that crashed. Throws at once, naming what is
/// missing, where the bed cannot be built (see ``TestBed/unavailableReason``); test suites use TestSupport's
/// `.testBed` trait to be skipped there instead (outside CI). `prefix` starts every name of the bed: `drb` for
/// tests, `dmo` for `demo-services launch --hosts` (one of ``TestBedLayout/prefixes``).
package func withTestBed<T: Sendable>(
    hosts: Int = 2,
    clockOffsets: [Duration] = [],
    prefix: String = TestBedLayout.testPrefix,
    _ body: (TestBed) async throws -> T
) async throws -> T {
    if let reason = TestBed.unavailableReason { throw TestBedError(reason) }
    guard (1...200).contains(hosts) else { throw TestBedError("a bed has 1 to 200 hosts, not \(hosts)") }
    guard TestBedLayout.prefixes.contains(prefix) else {
        throw TestBedError("a bed's prefix is one of \(TestBedLayout.prefixes.joined(separator: ", ")), not '\(prefix)'")
    }
    await TestBedCleanup.sweepOnce()
    let bed = try await TestBed.build(hosts: hosts, clockOffsets: clockOffsets, prefix: prefix)
    let result: Result<T, any Error>
    do {
        try await bed.startDNS()
        result = .success(try await body(bed))
    } catch {
        result = .failure(error)
    }
    let problems = await bed.remove()
    if case .success = result, !problems.isEmpty {
        throw TestBedError("the bed \(bed.tag) was not removed cleanly: \(problems.joined(separator: "; "))")
    }
    return try result.get()
}

extension TestBed {
    private static let beds = Atomic<Int>(0)

    /// Why a bed cannot be built here (not root; `ip`, `dnsmasq` or `unshare` missing; no time namespaces), nil
    /// when it can.
    package static var unavailableReason: String? {
        if geteuid() != 0 { return "the test bed needs root (network namespaces)" }
        for (tool, package) in [("ip", "iproute2"), ("dnsmasq", "dnsmasq-base"), ("unshare", "util-linux")] where Command.find(tool) == nil {
            return "the test bed needs `\(tool)` (Debian: \(package))"
        }
        if !FileManager.default.fileExists(atPath: "/proc/self/ns/time") {
            return "the test bed needs time namespaces (Linux 5.6 or later)"
        }
        return nil
    }

    /// Removes what beds of processes that no longer run left behind (``withTestBed(hosts:clockOffsets:prefix:_:)``
    /// does it once per process); returns the names removed.
    @discardableResult
    package static func removeLeftovers() async -> [String] {
        await TestBedCleanup.sweep()
    }

    /// Names of this machine's network namespaces and root-namespace links that start with `prefix` (to check
    /// that a bed is gone).
    package static func namesInUse(startingWith prefix: String) async -> [String] {
        (await TestBedCleanup.namespaces() + TestBedCleanup.links()).filter { $0.hasPrefix(prefix) }
    }

    /// Creates the namespaces, veths and bridge of a new bed; on failure removes what was made and throws.
    static func build(hosts: Int, clockOffsets: [Duration], prefix: String) async throws -> TestBed {
        guard let ip = Command.find("ip") else { throw TestBedError("`ip` is not installed") }
        let number = Self.beds.add(1, ordering: .relaxed).newValue
        let pid = getpid()
        let routes = await Command.result(ip, ["-4", "route", "show", "table", "all"]).output
            + (await Command.result(ip, ["-4", "-o", "addr", "show"]).output)
        guard let subnet = TestBedLayout.subnet(pid: pid, number: number, routes: routes) else {
            throw TestBedError("no free 10.200-254.x.0/24 for a test bed")
        }
        let layout = TestBedLayout(tag: TestBedLayout.tag(prefix: prefix, pid: pid, number: number), subnet: subnet, hostCount: hosts)
        let bed = TestBed(layout: layout, clockOffsets: clockOffsets)
        do {
            try FileManager.default.createDirectory(at: layout.directory, withIntermediateDirectories: true)
            try await Self.batch(ip, [], layout.rootCommands, in: layout, named: "root")
            let addresses = (1...hosts).map { (layout.namespace(ofHost: $0), layout.address(ofHost: $0)) }
            for (namespace, address) in addresses + [(layout.dnsNamespace, layout.dnsAddress)] {
                try await Self.batch(ip, ["-n", namespace], TestBedLayout.namespaceCommands(address: address), in: layout, named: namespace)
            }
        } catch {
            _ = await bed.remove()
            throw error
        }
        return bed
    }

    /// Runs `commands` through one `ip [OPTIONS] -batch FILE`.
    private static func batch(_ ip: String, _ options: [String], _ commands: [String], in layout: TestBedLayout, named name: String) async throws {
        let file = layout.directory.appendingPathComponent("\(name).ip")
        try Data((commands.joined(separator: "\n") + "\n").utf8).write(to: file)
        try await Command.run(ip, options + ["-batch", file.path])
    }
}
