import DeadlineRPC
import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The bed's DNS server: dnsmasq alone in its namespace at 10.X.Y.254:53, answering from one hosts file that the
/// test rewrites, authoritative for `.test` (an unknown name there is NXDOMAIN) and forwarding nothing.
final class TestBedDNS: Sendable {
    /// dnsmasq's process id (the daemon's, from its pid file).
    let pid: Int32
    private let hostsFile: URL
    private let logFile: URL
    /// The readiness probe's record, kept in every version of the file.
    private let probeLine: String
    private let records = Mutex<[String: [String]]>([:])

    private init(pid: Int32, hostsFile: URL, logFile: URL, probeLine: String) {
        self.pid = pid
        self.hostsFile = hostsFile
        self.logFile = logFile
        self.probeLine = probeLine
    }

    /// Writes an empty hosts file (but for `dns.test`, the readiness probe's name), starts dnsmasq and waits until
    /// it answers; writes every host's `/etc/netns/NAMESPACE/resolv.conf` naming it.
    ///
    /// dnsmasq runs as a daemon, not as a child the bed watches: at startup it closes every descriptor it
    /// inherited, and Foundation's `Process` takes the close of the one it watches for a child's exit — its
    /// process-wide watcher thread then blocks in `waitpid` until dnsmasq really exits, and no other child's exit
    /// in the test process is noticed meanwhile. The daemon's parent exits once dnsmasq is set up (non-zero on a
    /// bad option); the daemon is found by its pid file and killed with the bed's namespaces.
    static func start(bed: TestBed) async throws -> TestBedDNS {
        guard let dnsmasq = Command.find("dnsmasq") else { throw TestBedError("dnsmasq is not installed (Debian: dnsmasq-base)") }
        guard let ip = Command.find("ip") else { throw TestBedError("`ip` is not installed") }
        let layout = bed.layout
        try FileManager.default.createDirectory(at: layout.directory, withIntermediateDirectories: true)
        let hostsFile = layout.directory.appendingPathComponent("hosts")
        let pidFile = layout.directory.appendingPathComponent("dnsmasq.pid")
        let logFile = layout.directory.appendingPathComponent("dnsmasq.log")
        let probeLine = "\(layout.dnsAddress) dns.test\n"
        try Data(probeLine.utf8).write(to: hostsFile, options: .atomic)
        for host in bed.hosts {
            let folder = URL(fileURLWithPath: "/etc/netns/\(host.namespace)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            // Bind-mounted over /etc/resolv.conf by `ip netns exec`, so the system resolver of a process in the
            // host asks the bed's dnsmasq.
            try Data("nameserver \(layout.dnsAddress)\noptions timeout:1 attempts:2\n".utf8)
                .write(to: folder.appendingPathComponent("resolv.conf"), options: .atomic)
        }
        let started = await Command.result(ip, [
            "netns", "exec", layout.dnsNamespace, dnsmasq,
            "--conf-file=/dev/null", "--pid-file=\(pidFile.path)", "--log-facility=\(logFile.path)", "--user=root",
            "--no-resolv", "--no-hosts", "--addn-hosts=\(hostsFile.path)", "--local=/test/", "--local-ttl=0",
            "--listen-address=\(layout.dnsAddress)", "--bind-interfaces", "--port=53",
        ])
        let log = { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
        guard started.status == 0 else {
            throw TestBedError("dnsmasq did not start (status \(started.status)): \(started.output) \(log())")
        }
        // The parent exits after the daemon wrote its pid file.
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw TestBedError("dnsmasq wrote no pid file at \(pidFile.path): \(log())") }
        let dns = TestBedDNS(pid: pid, hostsFile: hostsFile, logFile: logFile, probeLine: probeLine)
        try await dns.awaitServed("dns.test", [layout.dnsAddress], resolver: bed.resolver, timeout: .seconds(10))
        return dns
    }

    /// What dnsmasq logged.
    var log: String { (try? String(contentsOf: self.logFile, encoding: .utf8)) ?? "" }

    /// Rewrites the hosts file with `name` → `addresses`, has dnsmasq re-read it (SIGHUP), and waits until it
    /// serves exactly that set.
    func setRecords(_ name: String, to addresses: [String], resolver: DNSResolver, timeout: Duration) async throws {
        let text = self.records.withLock { records -> String in
            records[name] = addresses.isEmpty ? nil : addresses
            return records.keys.sorted().flatMap { name in records[name]!.map { "\($0) \(name)\n" } }.joined()
        }
        // Written whole and renamed into place: dnsmasq never reads half a file.
        try Data((self.probeLine + text).utf8).write(to: self.hostsFile, options: .atomic)
        kill(self.pid, SIGHUP)
        try await self.awaitServed(name, addresses, resolver: resolver, timeout: timeout)
    }

    /// Asks dnsmasq until it serves exactly `addresses` for `name` (NXDOMAIN for none); throws with the last
    /// answer if `timeout` passes first.
    private func awaitServed(_ name: String, _ addresses: [String], resolver: DNSResolver, timeout: Duration) async throws {
        // Compared as the resolver spells them (an IPv6 address has several spellings).
        let wanted = Set(addresses.map { (try? SocketAddress(ipAddress: $0, port: 0))?.ipAddress ?? $0 })
        let giveUp = ContinuousClock.now + timeout
        var last = "nothing yet"
        while true {
            guard kill(self.pid, 0) == 0 else {
                throw TestBedError("dnsmasq is gone: \(self.log)")
            }
            do {
                let served = try await resolver.resolve(host: name, port: 0)
                if Set(served.map(\.host)) == wanted { return }
                last = served.map(\.host).joined(separator: ", ")
            } catch let error as ResolutionError where error.reason == "no such name" && wanted.isEmpty {
                return
            } catch let error as ResolutionError {
                last = error.reason
            }
            guard ContinuousClock.now < giveUp else {
                throw TestBedError("dnsmasq did not serve \(name) → [\(addresses.joined(separator: ", "))] within \(timeout); last answer: \(last). Its log:\n\(self.log)")
            }
            // Between two questions to a server that has not re-read its file yet: the re-read is not observable
            // any other way.
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
