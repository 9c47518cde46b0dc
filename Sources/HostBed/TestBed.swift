import DeadlineRPC
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Real hosts on one machine, for multi-host tests and `demo-services launch --hosts`: Linux network namespaces on
/// one bridge, each with its own address (servers in several hosts can share a port), optionally its own monotonic
/// clock (a time namespace per process, days ahead), a dnsmasq whose records change while it runs, and userspace
/// proxies for delay and loss.
///
/// Made and removed by ``withTestBed(hosts:clockOffsets:prefix:_:)``; see docs/TESTBED.md for the layout.
///
/// ```swift
/// try await withTestBed(hosts: 2) { bed in
///     for host in bed.hosts {
///         let server = try await host.run(TestBed.executable("demo-services"), ["echo-server", "--host", host.address, "--port", "7000"])
///         try await server.line(containing: "listening on")
///     }
///     try await bed.setRecords("echo.test", to: bed.hosts.map(\.address))
///     let replicas = try await bed.resolver.resolve(host: "echo.test", port: 7000)
/// }
/// ```
package final class TestBed: Sendable {
    /// One host: a network namespace with one address on the bed's bridge.
    package struct Host: Sendable, Hashable {
        /// 1-based; host N has address 10.X.Y.(N+1).
        package let number: Int
        /// The network namespace (`ip netns exec NAMESPACE …`).
        package let namespace: String
        /// Its IPv4 address on the bridge.
        package let address: String
        /// How far ahead of the root namespace's the monotonic and boot-time clocks of processes it runs are.
        package let clockOffset: Duration
        fileprivate let bed: TestBed

        /// Starts `executable ARGUMENTS` inside this host (in a time namespace when ``clockOffset`` is not
        /// zero); it is stopped when the bed is removed, if it has not ended by then.
        package func run(_ executable: URL, _ arguments: [String] = []) async throws -> BedProcess {
            try await self.bed.start(in: self.namespace, clockOffset: self.clockOffset, executable.path, arguments)
        }

        /// Cuts the host off the bridge (its link down on the root side), or joins it again. Nothing is sent to
        /// either side — no FIN, no RST: the host's processes run on and its peers' packets go nowhere, as when a
        /// machine loses power or a partition cuts it off.
        package func setPartitioned(_ partitioned: Bool) async throws {
            guard let ip = Command.find("ip") else { throw TestBedError("`ip` (iproute2) is missing") }
            try await Command.run(ip, ["link", "set", self.bed.layout.veth(of: self.namespace), partitioned ? "down" : "up"])
        }

        /// Two hosts are the same host of the same bed.
        package static func == (left: Host, right: Host) -> Bool { left.namespace == right.namespace }

        /// Hashes the namespace.
        package func hash(into hasher: inout Hasher) { hasher.combine(self.namespace) }
    }

    let layout: TestBedLayout
    private let processes = Mutex<[BedProcess]>([])
    private let proxies = Mutex<[BedProxy]>([])
    private let dnsServer = Mutex<TestBedDNS?>(nil)
    private let clockOffsets: [Duration]

    /// What every name of this bed starts with (`drb<pid>-<n>`).
    package var tag: String { self.layout.tag }
    /// The root namespace's address on the bridge (where the process that made the bed and ``BedProxy`` listen).
    package var gateway: String { self.layout.gateway }
    /// The hosts, host 1 first.
    package var hosts: [Host] {
        (1...self.layout.hostCount).map { number in
            Host(
                number: number,
                namespace: self.layout.namespace(ofHost: number),
                address: self.layout.address(ofHost: number),
                clockOffset: number <= self.clockOffsets.count ? self.clockOffsets[number - 1] : .zero,
                bed: self
            )
        }
    }
    /// The address of the bed's DNS server (dnsmasq, port 53), which every host's `/etc/resolv.conf` names.
    package var dnsAddress: String { self.layout.dnsAddress }
    /// A resolver asking the bed's DNS server (1 s per attempt).
    package var resolver: DNSResolver {
        // The address is an IPv4 literal the layout made: it always parses.
        try! DNSResolver(host: self.layout.dnsAddress, timeout: .seconds(1))
    }

    init(layout: TestBedLayout, clockOffsets: [Duration]) {
        self.layout = layout
        self.clockOffsets = clockOffsets
    }

    /// Host `number` (1-based).
    package func host(_ number: Int) -> Host { self.hosts[number - 1] }

    /// Sets `name`'s A/AAAA records to `addresses` (IP literals; empty removes the name) and waits until the bed's
    /// DNS server serves exactly that set (NXDOMAIN for an empty one); throws if it does not within `timeout`.
    package func setRecords(_ name: String, to addresses: [String], timeout: Duration = .seconds(10)) async throws {
        guard let dns = self.dnsServer.withLock({ $0 }) else { throw TestBedError("the bed's DNS server is not running") }
        try await dns.setRecords(name, to: addresses, resolver: self.resolver, timeout: timeout)
    }

    /// A TCP proxy listening on the bed's gateway address, forwarding to `target` after `delay` each way; stopped
    /// when the bed is removed.
    package func proxy(to target: Endpoint, delay: Duration = .zero) async throws -> BedProxy {
        let proxy = try await BedProxy.start(host: self.gateway, target: target, delay: delay)
        self.proxies.withLock { $0.append(proxy) }
        return proxy
    }

    /// Starts a process in `namespace`: `ip netns exec NAMESPACE [unshare --time --monotonic S --boottime S] …`.
    ///
    /// `unshare` runs without `--fork`: since Linux 5.x, `execve` moves the process into the time namespace that
    /// `unshare` made, so the program is the process started here (with `--fork`, the parent `unshare` ignores
    /// SIGTERM and the program's exit status is relayed, not its own).
    func start(in namespace: String, clockOffset: Duration, _ executable: String, _ arguments: [String]) async throws -> BedProcess {
        guard let ip = Command.find("ip") else { throw TestBedError("`ip` (iproute2) is not installed") }
        var prefix = ["netns", "exec", namespace]
        if clockOffset != .zero {
            let seconds = clockOffset.components.seconds
            guard clockOffset > .zero, clockOffset == .seconds(seconds) else {
                throw TestBedError("a clock offset must be a positive whole number of seconds, not \(clockOffset)")
            }
            // Both clocks: NIO's deadlines read CLOCK_MONOTONIC, Swift's ContinuousClock CLOCK_BOOTTIME.
            prefix += ["unshare", "--time", "--monotonic", "\(seconds)", "--boottime", "\(seconds)"]
        }
        let process = try await BedProcess.start(executable: ip, arguments: prefix + [executable] + arguments, command: [executable] + arguments)
        self.processes.withLock { $0.append(process) }
        return process
    }

    /// Starts dnsmasq in the DNS namespace and waits until it answers.
    func startDNS() async throws {
        let dns = try await TestBedDNS.start(bed: self)
        self.dnsServer.withLock { $0 = dns }
    }

    /// dnsmasq's process id, once started.
    package var dnsPID: Int32? { self.dnsServer.withLock { $0?.pid } }

    /// Stops every process and proxy (processes get SIGTERM and `grace` before SIGKILL), then removes the
    /// namespaces, the bridge, `/etc/netns/…` and the bed's folder. Never throws; returns what could not be done.
    func remove(grace: Duration = .seconds(5)) async -> [String] {
        var problems: [String] = []
        for proxy in self.proxies.withLock({ $0 }) { await proxy.stop() }
        let processes = self.processes.withLock { $0 }
        await withTaskGroup(of: Void.self) { group in
            for process in processes where process.isRunning {
                group.addTask { await process.stop(grace: grace) }
            }
        }
        problems += await TestBedCleanup.remove(self.layout.namespaces, links: self.layout.links, tag: self.layout.tag)
        return problems
    }
}

extension Duration {
    /// `days` × 86 400 seconds (for clock offsets).
    package static func days(_ days: Int) -> Duration { .seconds(days * 86_400) }
}
