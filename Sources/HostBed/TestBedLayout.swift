import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The names and addresses of one bed, and the `ip` commands that build and remove it: a bridge in the root
/// namespace holding 10.X.Y.1/24, host N in namespace `TAGhN` at 10.X.Y.(N+1) behind a veth pair, and the DNS
/// server's namespace `TAGdns` at 10.X.Y.254.
///
/// Every name starts with the bed's tag, `PREFIX<pid in base 36>-<bed number in base 36>` (`drb` for a test's
/// bed, `dmo` for `demo-services launch --hosts`): unique per process and bed, at most 15 bytes with any suffix
/// (the kernel's limit for interface names), and it names the process that made it so that a later run can tell
/// a crashed run's leftovers (owner dead) from a parallel run's bed.
package struct TestBedLayout: Sendable {
    /// The prefix of tests' beds.
    package static let testPrefix = "drb"
    /// The prefix of `demo-services launch --hosts`'s bed.
    package static let demoPrefix = "dmo"
    /// Every prefix a bed may have: the sweep of crashed runs' leftovers looks for these.
    package static let prefixes = [testPrefix, demoPrefix]

    /// `PREFIX<pid>-<n>`.
    let tag: String
    /// The /24's first three bytes, "10.X.Y".
    let subnet: String
    /// How many hosts (1-based numbers).
    let hostCount: Int

    /// The bridge (root namespace).
    var bridge: String { "\(self.tag)br" }
    /// The root namespace's address on the bridge.
    var gateway: String { "\(self.subnet).1" }
    /// The DNS server's namespace.
    var dnsNamespace: String { "\(self.tag)dns" }
    /// The DNS server's address.
    var dnsAddress: String { "\(self.subnet).254" }
    /// Host `number`'s namespace.
    func namespace(ofHost number: Int) -> String { "\(self.tag)h\(number)" }
    /// Host `number`'s address.
    func address(ofHost number: Int) -> String { "\(self.subnet).\(number + 1)" }
    /// Every namespace of the bed: the hosts', then the DNS server's.
    var namespaces: [String] { (1...self.hostCount).map(self.namespace(ofHost:)) + [self.dnsNamespace] }
    /// The root namespace's end of the veth pair into `namespace`.
    func veth(of namespace: String) -> String {
        namespace == self.dnsNamespace ? "\(self.tag)vd" : "\(self.tag)v\(namespace.dropFirst(self.tag.count + 1))"
    }
    /// Every link of the bed in the root namespace: the veths' root ends, then the bridge.
    var links: [String] { self.namespaces.map(self.veth(of:)) + [self.bridge] }
    /// Where the bed keeps its files (dnsmasq's hosts file).
    var directory: URL { URL(fileURLWithPath: "/tmp").appendingPathComponent(self.tag) }

    /// The tag of the `number`-th bed of process `pid`, its names starting with `prefix`.
    package static func tag(prefix: String = testPrefix, pid: Int32, number: Int) -> String {
        "\(prefix)\(String(pid, radix: 36))-\(String(number, radix: 36))"
    }

    /// What every name of a bed made by process `pid` with `prefix` starts with (`PREFIX<pid>-`).
    package static func tagStart(prefix: String, pid: Int32) -> String {
        "\(prefix)\(String(pid, radix: 36))-"
    }

    /// The pid in a bed name (an interface, namespace or folder name starting with a tag of any of ``prefixes``),
    /// nil for other names.
    static func owner(of name: String) -> Int32? {
        guard let prefix = Self.prefixes.first(where: { name.hasPrefix($0) }), let dash = name.firstIndex(of: "-") else { return nil }
        return Int32(name[name.index(name.startIndex, offsetBy: prefix.count)..<dash], radix: 36)
    }

    /// `ip -batch` lines for the root namespace: bridge, namespaces, veth pairs.
    var rootCommands: [String] {
        var lines = [
            "link add \(self.bridge) type bridge",
            "addr add \(self.gateway)/24 dev \(self.bridge)",
            "link set \(self.bridge) up",
        ]
        for namespace in self.namespaces {
            let veth = self.veth(of: namespace)
            lines += [
                "netns add \(namespace)",
                // The far end is born inside the namespace, named eth0 there.
                "link add \(veth) type veth peer name eth0 netns \(namespace)",
                "link set \(veth) master \(self.bridge)",
                "link set \(veth) up",
            ]
        }
        return lines
    }

    /// `ip -n NAMESPACE -batch` lines inside `namespace` with `address`: eth0 and lo up (no default route: a
    /// host reaches the bed and nothing else).
    static func namespaceCommands(address: String) -> [String] {
        ["addr add \(address)/24 dev eth0", "link set eth0 up", "link set lo up"]
    }

    /// A free 10.X.Y.0/24 for bed `number` of `pid`: a spot picked from both, moved on past any /24 that an
    /// address or route of the root namespace already uses (`routes` is `ip -4 route` output). X is kept in
    /// 200...254, away from the low 10.x ranges networks tend to use.
    static func subnet(pid: Int32, number: Int, routes: String) -> String? {
        let span = 55 * 256
        let start = (Int(pid) &* 97 &+ number &* 13) % span
        for step in 0..<span {
            let spot = (start + step) % span
            let candidate = "10.\(200 + spot / 256).\(spot % 256)"
            if !routes.contains(candidate + ".") { return candidate }
        }
        return nil
    }
}
