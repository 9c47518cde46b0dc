import DemoTopology
import Foundation
import HostBed

#if canImport(Glibc)
import Glibc
#endif

/// A replica killed or drained mid-run in one topology, while checkouts flow through its front door: what was in
/// flight on it, how it ended, what the checkouts were answered, and what its callers sent again elsewhere.
struct ReplicaEvent: Sendable {
    /// The event.
    var event: HostPlan.Event
    /// The replica it happened to.
    var victim: HostPlan.Placement
    /// The replica's address.
    var address: String
    /// Handlers running on it when it was signalled (health watches left out).
    var inFlight: Int
    /// How it ended.
    var termination: BedProcess.Termination
    /// The checkouts sent meanwhile.
    var checkouts: CheckoutBurst.Tally
    /// Calls its callers sent again to another replica: retried after failing `unavailable` (`RetryInterceptor`),
    /// or sent again after a GOAWAY refused them unprocessed.
    var retried: Int

    /// Kills or drains `event`'s replica in topology `topology` while checkouts flow, once it has calls in flight
    /// (or after 5 s without any), and waits for it to end.
    static func perform(_ event: HostPlan.Event, topology: Int, on hosts: HostTopology) async throws -> ReplicaEvent {
        guard let victim = hosts.replica(event.service, event.replica, topology: topology), victim.process.isRunning else {
            throw SettingsError("\(event.service.rawValue) r\(event.replica) is not running: nothing to \(event.kind.rawValue).")
        }
        let callers = hosts.replicas.filter { replica in
            replica.placement.topology == topology && replica.process.isRunning
                && replica.placement.service.downstreams.contains(event.service)
        }
        let method = DemoAPI.method(event.service).name
        let retriedBefore = await Self.retries(of: callers, method: method)
        let burst = CheckoutBurst(
            front: hosts.endpoints(topology: topology).front,
            requestIDPrefix: "\(event.kind.rawValue)-\(victim.placement.propagation)"
        )
        let ((inFlight, termination), checkouts) = try await burst.run {
            let inFlight = await Self.awaitWork(on: victim.http, timeout: .seconds(5))
            victim.process.signal(event.kind == .kill ? SIGKILL : SIGTERM)
            let termination = try await victim.process.waitForExit(timeout: .seconds(30))
            return (inFlight, termination)
        }
        let retriedAfter = await Self.retries(of: callers, method: method)
        return ReplicaEvent(
            event: event,
            victim: victim.placement,
            address: victim.address,
            inFlight: inFlight,
            termination: termination,
            checkouts: checkouts,
            retried: max(0, retriedAfter - retriedBefore)
        )
    }

    /// The event in one line, for the console and the report.
    var line: String {
        let what: String
        switch self.event.kind {
        case .kill: what = "SIGKILLed (\(self.termination))"
        case .drain: what = "drained: SIGTERM → NOT_SERVING, GOAWAY, its calls finished, \(self.termination)"
        }
        return "\(self.victim.label) at \(self.address) \(what) with \(self.inFlight) call\(self.inFlight == 1 ? "" : "s") in flight; "
            + "\(self.checkouts.sent) checkouts meanwhile: \(self.checkouts.description); "
            + "sent again to the other replica: \(self.retried)"
    }

    /// Polls the replica's `/stats` until a handler runs there (the checkouts reach it); returns how many ran, or 0
    /// if none did within `timeout`.
    private static func awaitWork(on endpoint: ServiceAddress, timeout: Duration) async -> Int {
        let giveUp = ContinuousClock.now + timeout
        while ContinuousClock.now < giveUp {
            if let reply = try? await HTTPFetch.get(endpoint, "/stats", timeout: .seconds(5)),
                let report = try? JSONDecoder().decode(StatsReport.self, from: Data(reply.body.utf8)),
                let running = report.counters?.handlersInFlight, running > 0
            {
                return running
            }
            // Another process's handlers: no event of ours marks them starting, so they are looked at.
            do { try await Task.sleep(for: .milliseconds(2)) } catch { return 0 }
        }
        return 0
    }

    /// Calls of `method` that `callers` sent again (retries of it, and every transparent retry), from their
    /// `/metrics`; a caller that does not answer counts 0.
    private static func retries(of callers: [HostTopology.Replica], method: String) async -> Int {
        var total = 0
        for caller in callers {
            guard let reply = try? await HTTPFetch.get(caller.http, "/metrics", timeout: .seconds(10)) else { continue }
            for line in reply.body.split(separator: "\n") where !line.hasPrefix("#") {
                let counted = line.hasPrefix("drpc_client_retries_total{") && line.contains("method=\"\(method)\"")
                    || line.hasPrefix("drpc_client_transparent_retries_total")
                if counted, let value = line.split(separator: " ").last.flatMap({ Double($0) }) { total += Int(value) }
            }
        }
        return total
    }
}
