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
    /// The dnsmasq process.
    let process: BedProcess
    private let hostsFile: URL
    /// The readiness probe's record, kept in every version of the file.
    private let probeLine: String
    private let records = Mutex<[String: [String]]>([:])

    private init(process: BedProcess, hostsFile: URL, probeLine: String) {
        self.process = process
        self.hostsFile = hostsFile
        self.probeLine = probeLine
    }

    /// Writes an empty hosts file (but for `dns.test`, the readiness probe's name), starts dnsmasq and waits until
    /// it answers; writes every host's `/etc/netns/NAMESPACE/resolv.conf` naming it.
    static func start(bed: TestBed) async throws -> TestBedDNS {
        guard let dnsmasq = Command.find("dnsmasq") else { throw TestBedError("dnsmasq is not installed (Debian: dnsmasq-base)") }
        let layout = bed.layout
        try FileManager.default.createDirectory(at: layout.directory, withIntermediateDirectories: true)
        let hostsFile = layout.directory.appendingPathComponent("hosts")
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
        let process = try bed.start(
            in: layout.dnsNamespace,
            clockOffset: .zero,
            dnsmasq,
            [
                "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=", "--log-facility=-", "--user=root",
                "--no-resolv", "--no-hosts", "--addn-hosts=\(hostsFile.path)", "--local=/test/", "--local-ttl=0",
                "--listen-address=\(layout.dnsAddress)", "--bind-interfaces", "--port=53",
            ]
        )
        let dns = TestBedDNS(process: process, hostsFile: hostsFile, probeLine: probeLine)
        try await dns.awaitServed("dns.test", [layout.dnsAddress], resolver: bed.resolver, timeout: .seconds(10))
        return dns
    }

    /// Rewrites the hosts file with `name` → `addresses`, has dnsmasq re-read it (SIGHUP), and waits until it
    /// serves exactly that set.
    func setRecords(_ name: String, to addresses: [String], resolver: DNSResolver, timeout: Duration) async throws {
        let text = self.records.withLock { records -> String in
            records[name] = addresses.isEmpty ? nil : addresses
            return records.keys.sorted().flatMap { name in records[name]!.map { "\($0) \(name)\n" } }.joined()
        }
        // Written whole and renamed into place: dnsmasq never reads half a file.
        try Data((self.probeLine + text).utf8).write(to: self.hostsFile, options: .atomic)
        self.process.signal(SIGHUP)
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
            guard self.process.isRunning else {
                throw TestBedError("dnsmasq exited: \(self.process.standardError)")
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
                throw TestBedError("dnsmasq did not serve \(name) → [\(addresses.joined(separator: ", "))] within \(timeout); last answer: \(last). Its log:\n\(self.process.standardError)")
            }
            // Between two questions to a server that has not re-read its file yet: the re-read is not observable
            // any other way.
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
