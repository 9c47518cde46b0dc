import DeadlineRPC
import DemoTopology
import Foundation
import HostBed
import ThrowawayPKI

/// The services of ``HostPlan`` running on a test bed: every replica a `demo-services serve` process inside its
/// host (started with the host's clock offset), every service's replicas behind one DNS name served by the bed's
/// dnsmasq, which the services' clients resolve through the system resolver (`ip netns exec` mounts the host's
/// `/etc/netns/HOST/resolv.conf` naming it).
final class HostTopology: Sendable {
    /// One running replica.
    struct Replica: Sendable {
        /// Where it runs.
        var placement: HostPlan.Placement
        /// Its host's address.
        var address: String
        /// The process.
        var process: BedProcess

        /// Its `/metrics` and `/stats` endpoint (the front door's: its HTTP port).
        var http: ServiceAddress {
            ServiceAddress(host: self.address, port: self.placement.service == .frontdoor ? HostPlan.frontPort : HostPlan.httpPort)
        }

        /// Its `/stats` endpoint as the scenario runner reads it.
        var stats: StatsEndpoint {
            StatsEndpoint(
                address: self.http,
                replica: self.placement.replica,
                of: self.placement.replicas,
                clockOffset: self.placement.clockOffset
            )
        }
    }

    /// The plan.
    let plan: HostPlan
    /// The bed it runs on.
    let bed: TestBed
    /// Every replica, in start order.
    let replicas: [Replica]
    /// How far ahead of this process's monotonic clock each host with an offset read when asked (its `/stats`),
    /// by host number: the offset is real, not only configured.
    let measuredOffsets: [Int: Duration]

    private init(plan: HostPlan, bed: TestBed, replicas: [Replica], measuredOffsets: [Int: Duration]) {
        self.plan = plan
        self.bed = bed
        self.replicas = replicas
        self.measuredOffsets = measuredOffsets
    }

    /// Publishes every service's DNS name, starts every replica in its host, and waits until each prints its
    /// `ready` line. Processes that started are stopped with the bed if a later step fails.
    /// With `tls`, each process reads its certificate, key and the CA from these files.
    static func start(_ plan: HostPlan, on bed: TestBed, executable: URL, selfStop: Duration, tls: [ServiceName: ThrowawayFiles]? = nil) async throws -> HostTopology {
        for topology in plan.settings.indices {
            for service in ServiceName.allCases {
                let addresses = plan.replicas(of: service, topology: topology).map { bed.host($0.host).address }
                try await bed.setRecords(plan.dnsName(service, topology: topology), to: addresses)
            }
        }
        // Every replica at once: they find each other by name when they first call, so no order is needed.
        let replicas = try await withThrowingTaskGroup(of: Replica.self) { group in
            for placement in plan.placements {
                let host = bed.host(placement.host)
                group.addTask {
                    var arguments = plan.arguments(placement, address: host.address, selfStop: selfStop)
                    if let files = tls?[placement.service] { arguments += ServiceTLS.arguments(files) }
                    let process = try await host.run(executable, arguments)
                    do {
                        try await process.line(containing: "ready \(placement.service.rawValue) ", timeout: .seconds(60))
                    } catch {
                        throw SettingsError("\(placement.label) (\(placement.propagation)) did not start on \(host.namespace): \(error). Its standard error:\n\(process.standardError)")
                    }
                    return Replica(placement: placement, address: host.address, process: process)
                }
            }
            var replicas: [Replica] = []
            for try await replica in group { replicas.append(replica) }
            return replicas.sorted { $0.placement.host < $1.placement.host }
        }
        var measured: [Int: Duration] = [:]
        for replica in replicas where replica.placement.clockOffset != .zero {
            measured[replica.placement.host] = try await Self.clockOffset(of: replica)
        }
        return HostTopology(plan: plan, bed: bed, replicas: replicas, measuredOffsets: measured)
    }

    /// How far ahead of ours `replica`'s monotonic clock reads: its `/stats` clock against the middle of the
    /// exchange on ours (off by at most half the exchange, a millisecond or so).
    private static func clockOffset(of replica: Replica) async throws -> Duration {
        let before = Deadline.now().uptimeNanoseconds
        let reply = try await HTTPFetch.get(replica.http, "/stats", timeout: .seconds(10))
        let after = Deadline.now().uptimeNanoseconds
        let report = try JSONDecoder().decode(StatsReport.self, from: Data(reply.body.utf8))
        return .nanoseconds(report.process.clockNanoseconds - (before / 2 + after / 2))
    }

    /// The replica of `service` number `replica` in topology `topology`.
    func replica(_ service: ServiceName, _ replica: Int, topology: Int) -> Replica? {
        self.replicas.first { $0.placement.topology == topology && $0.placement.service == service && $0.placement.replica == replica }
    }

    /// Where topology `topology`'s scenarios go: its front door, and every replica still running.
    func endpoints(topology: Int) -> TopologyEndpoints {
        let running = self.replicas.filter { $0.placement.topology == topology && $0.process.isRunning }
        var http: [ServiceName: ServiceAddress] = [:]
        var stats: [ServiceName: [StatsEndpoint]] = [:]
        for replica in running {
            if http[replica.placement.service] == nil { http[replica.placement.service] = replica.http }
            stats[replica.placement.service, default: []].append(replica.stats)
        }
        let front = ServiceAddress(host: self.replica(.frontdoor, 1, topology: topology)?.address ?? "?", port: HostPlan.frontPort)
        var endpoints = TopologyEndpoints(propagation: self.plan.settings[topology].propagationLabel, front: front, http: http)
        endpoints.replicas = stats
        return endpoints
    }

    /// Every topology's endpoints, in column order.
    var allEndpoints: [TopologyEndpoints] { self.plan.settings.indices.map(self.endpoints(topology:)) }

    /// The hosts, addresses, names and clocks, for the console.
    var listing: String {
        var lines = [
            "The test bed \(self.bed.tag): \(self.plan.hostCount) hosts (network namespaces) on a bridge at \(self.bed.gateway)/24; "
                + "dnsmasq at \(self.bed.dnsAddress) serves *.\(HostPlan.zone)",
        ]
        for topology in self.plan.settings.indices {
            let front = self.endpoints(topology: topology).front
            lines.append("  propagation \(self.plan.settings[topology].propagationLabel): front door http://\(front)/checkout")
            for service in ServiceName.allCases where service != .frontdoor {
                let replicas = self.replicas.filter { $0.placement.topology == topology && $0.placement.service == service }
                let name = self.plan.dnsName(service, topology: topology) + ":\(HostPlan.rpcPort)"
                let hosts = replicas.map { replica in
                    var text = "\(replica.placement.replicas > 1 ? "r\(replica.placement.replica) " : "")\(replica.address)"
                    if replica.placement.clockOffset != .zero {
                        text += " (clock +\(replica.placement.clockOffset.components.seconds / 86_400) days"
                        if let measured = self.measuredOffsets[replica.placement.host] {
                            let seconds = Double(measured.components.seconds) + Double(measured.components.attoseconds) / 1e18
                            text += ": its CLOCK_MONOTONIC reads \(String(format: "%.3f", seconds)) s ahead of ours"
                        }
                        text += ")"
                    }
                    return text
                }
                lines.append("    \(name.padding(toLength: 36, withPad: " ", startingAt: 0))\(hosts.joined(separator: ", "))")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// SIGTERM to every replica still running, each awaited for up to `grace` (SIGKILL after it); returns how many
    /// were signalled and the ones that did not exit 0.
    func terminate(grace: Duration = .seconds(20)) async -> (count: Int, unclean: [String]) {
        let running = self.replicas.filter { $0.process.isRunning }
        let unclean = await withTaskGroup(of: String?.self) { group in
            for replica in running {
                group.addTask {
                    let termination = await replica.process.stop(grace: grace)
                    guard termination != .exited(0) else { return nil }
                    return "\(replica.placement.label) (propagation \(replica.placement.propagation)): \(termination.map { "\($0)" } ?? "did not end")"
                }
            }
            var unclean: [String] = []
            for await problem in group { if let problem { unclean.append(problem) } }
            return unclean.sorted()
        }
        return (running.count, unclean)
    }
}
