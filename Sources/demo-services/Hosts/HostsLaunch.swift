import DemoTopology
import Foundation
import HostBed
import ServiceLifecycle
import ThrowawayPKI

/// `demo-services launch --hosts`: builds a test bed (network namespaces on a bridge, dnsmasq, one host's clock
/// days ahead), runs every service replica in a host of its own, runs the scenarios with a replica killed and
/// one drained mid-run, prints the table and what the kill and the drain cost, then stops every process and
/// removes the bed — on success, on error, and on SIGINT/SIGTERM (the caller runs this in a service group).
enum HostsLaunch {
    /// The whole run; `duration` serves that long instead of the scenarios (no replica is killed then).
    /// With `tls`, every RPC hop uses TLS: each service's certificate names `NAME.demo.test`, its DNS names and its
    /// hosts' addresses.
    static func run(settings: [TopologySettings], scenarios: [Scenario], duration: Int?, tls: Bool = false) async throws {
        if let reason = TestBed.unavailableReason {
            throw SettingsError("`launch --hosts` runs each service in a network namespace of its own, and \(reason). Run it as root, or without --hosts.")
        }
        let plan = HostPlan(settings: settings)
        let executable = ProcessTopology.currentExecutable
        Console.progress("building a test bed of \(plan.hostCount) hosts…")
        let tag = try await withTestBed(hosts: plan.hostCount, clockOffsets: plan.clockOffsets, prefix: TestBedLayout.demoPrefix) { bed in
            let pkiFiles = try tls ? Self.certificates(plan, on: bed) : nil
            defer { if let pkiFiles { try? FileManager.default.removeItem(at: pkiFiles.directory) } }
            Console.progress("starting \(plan.hostCount) processes, one per host…")
            let hosts = try await cancelWhenGracefulShutdown {
                try await HostTopology.start(plan, on: bed, executable: executable, selfStop: .seconds((duration ?? 0) + 600), tls: pkiFiles?.files)
            }
            Console.output(hosts.listing)
            if tls { Console.output(ServiceTLS.reportLine) }
            var failure: (any Error)?
            do {
                if let duration {
                    Console.output("serving for \(duration) s (Ctrl-C stops)")
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(duration)) }
                } else {
                    let (rows, interludes) = try await cancelWhenGracefulShutdown {
                        try await Self.scenarios(scenarios, on: hosts)
                    }
                    Console.output("")
                    Console.output(ScenarioTable.render(rows, settings: settings[0], tls: tls))
                    Console.output("")
                    Console.output(HostsReport.render(rows, interludes: interludes, plan: plan).joined(separator: "\n"))
                }
            } catch {
                failure = error
            }
            let (count, unclean) = await hosts.terminate()
            if let failure { throw failure }
            guard unclean.isEmpty else {
                throw SettingsError("Some processes did not exit cleanly on SIGTERM: \(unclean.joined(separator: ", ")).")
            }
            Console.output("SIGTERM: all \(count) remaining processes exited cleanly (status 0).")
            return bed.tag
        }
        Console.output("Removed the test bed \(tag): its \(plan.hostCount + 1) namespaces, veths, bridge, dnsmasq, /etc/netns entries and files.")
    }

    /// Every service's certificate, naming `NAME.demo.test`, its DNS name in each topology and its replicas' host
    /// addresses (each host has its own, so an IP SAN names one service only), written for the processes.
    private static func certificates(_ plan: HostPlan, on bed: TestBed) throws -> (directory: URL, files: [ServiceName: ThrowawayFiles]) {
        let pki = try DemoPKI(
            extraNames: { service in plan.settings.indices.map { plan.dnsName(service, topology: $0) } },
            ipAddresses: { service in plan.placements.filter { $0.service == service }.map { bed.host($0.host).address } }
        )
        return try pki.writeFiles()
    }

    /// Runs `scenarios` on every topology, killing and draining replicas before the scenarios
    /// ``HostPlan/schedule(scenarios:)`` names (printing each as it happens); returns the table's rows and the
    /// events.
    private static func scenarios(
        _ scenarios: [Scenario],
        on hosts: HostTopology
    ) async throws -> ([ScenarioSession.Row], [HostsReport.Interlude]) {
        let schedule = HostPlan.schedule(scenarios: scenarios.count)
        var interludes: [HostsReport.Interlude] = []
        let rows = try await ScenarioSession.run(scenarios, on: hosts.allEndpoints, progress: Console.progress) { index, endpoints in
            guard let events = schedule[index] else { return endpoints }
            var outcomes: [ReplicaEvent] = []
            for event in events {
                for topology in hosts.plan.settings.indices {
                    Console.progress("\(event.kind == .kill ? "killing" : "draining") \(event.service.rawValue) r\(event.replica) (propagation \(hosts.plan.settings[topology].propagationLabel)) while checkouts flow…")
                    let outcome = try await ReplicaEvent.perform(event, topology: topology, on: hosts)
                    Console.output("mid-run, before scenario \(index + 1), propagation \(outcome.victim.propagation): \(outcome.line)")
                    outcomes.append(outcome)
                }
            }
            interludes.append((index, outcomes))
            // The scenarios from here on read the replicas still running.
            return hosts.allEndpoints
        }
        return (rows, interludes)
    }
}
