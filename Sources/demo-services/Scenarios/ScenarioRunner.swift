import DeadlineRPC
import DemoTopology
import Foundation

/// Sends scenario requests through a topology's front door and gathers, from every service's `/stats`, what each
/// hop did — waiting (by polling) until no handler is running anywhere, so work done after the answer counts.
struct ScenarioRunner: Sendable {
    /// The topology.
    let endpoints: TopologyEndpoints
    /// How long to wait for every handler to stop after the answer.
    var settleTimeout: Duration = .seconds(20)
    /// Time between stats polls while waiting.
    var pollInterval: Duration = .milliseconds(20)

    /// Creates a runner for `endpoints`.
    init(endpoints: TopologyEndpoints) {
        self.endpoints = endpoints
    }

    /// Runs `scenario` once.
    func run(_ scenario: Scenario) async throws -> ScenarioResult {
        let before = try await self.reports(requestID: "")
        let tag = self.endpoints.propagation.filter { $0.isLetter || $0.isNumber }
        let requestID = "\(scenario.id)-\(tag)-\(UInt32.random(in: 0...UInt32.max))"
        var headers = [(FrontDoor.requestIDHeader, requestID)]
        if let budget = scenario.budgetMs { headers.append((FrontDoor.budgetHeader, "\(budget)")) }
        let start = Deadline.now()
        let reply = try await HTTPFetch.get(self.endpoints.front, scenario.path, headers: headers, timeout: .seconds(30))
        let answeredAt = Deadline.now()

        var result = ScenarioResult(
            scenario: scenario,
            propagation: self.endpoints.propagation,
            requestID: requestID,
            httpStatus: reply.status,
            latency: answeredAt - start,
            degraded: reply.headers.first(name: FrontDoor.degradedHeader).map { $0.split(separator: ",").map(String.init) } ?? [],
            budgetMs: reply.headers.first(name: FrontDoor.budgetHeader).flatMap(Int.init) ?? 0,
            hops: [:]
        )
        guard !before.isEmpty else { return result }

        // Wait until no handler runs anywhere, twice in a row (a call in flight between two polls is caught by
        // its caller still running).
        var after = before
        var quietRounds = 0
        let waitUntil = Deadline.now() + self.settleTimeout
        while quietRounds < 2 && !waitUntil.hasPassed {
            after = try await self.reports(requestID: requestID)
            let busy = after.values.joined().contains { replica in
                (replica.report.counters?.handlersInFlight ?? 0) > 0 || replica.report.records.contains { $0.endedNanoseconds == nil }
            }
            if busy {
                quietRounds = 0
                try await Task.sleep(for: self.pollInterval)
            } else {
                quietRounds += 1
                if result.settledAfterAnswer == nil || quietRounds == 1 { result.settledAfterAnswer = Deadline.now() - answeredAt }
            }
        }

        // Every host's readings are put on this process's clock (a host may read days ahead: its own time
        // namespace), so that a hop's end compares with the front door's deadline.
        let front = after[.frontdoor]?.first.flatMap { replica in
            replica.report.records.first?.deadlineNanoseconds.map { $0 - replica.endpoint.offsetNanoseconds }
        }
        let requestDeadline = front ?? (start.uptimeNanoseconds + Int64(result.budgetMs) * 1_000_000)
        for service in ServiceName.rpcServices {
            guard let replicas = after[service] else { continue }
            var hop = HopResult(service: service)
            let old = Dictionary((before[service] ?? []).map { ($0.endpoint.address, $0.report) }, uniquingKeysWith: { $1 })
            for replica in replicas {
                let report = replica.report
                let offset = replica.endpoint.offsetNanoseconds
                hop.runs += report.records.count
                if replica.endpoint.replicas > 1 {
                    hop.replicaCount = replica.endpoint.replicas
                    if !report.records.isEmpty { hop.replicas.append(replica.endpoint.replica) }
                }
                if let counters = report.counters, let old = old[replica.endpoint.address]?.counters {
                    hop.shed += counters.shedCalls - old.shedCalls
                    hop.stragglers += counters.stragglersTotal - old.stragglersTotal
                }
                for record in report.records {
                    guard let ended = record.endedNanoseconds.map({ $0 - offset }) else {
                        hop.stillRunning = true
                        continue
                    }
                    hop.outcome = record.outcome
                    hop.detail = record.detail
                    let deadAt = min(requestDeadline, record.deadlineNanoseconds.map { $0 - offset } ?? .max)
                    if ended > deadAt {
                        hop.ranPastBudget = (hop.ranPastBudget ?? .zero) + .nanoseconds(ended - deadAt)
                    }
                }
            }
            hop.replicas.sort()
            result.hops[service] = hop
        }
        return result
    }

    /// One replica's `/stats` answer.
    private struct ReplicaReport: Sendable {
        var endpoint: StatsEndpoint
        var report: StatsReport
    }

    /// Every known replica's `/stats` for `requestID`, by service, in replica order.
    private func reports(requestID: String) async throws -> [ServiceName: [ReplicaReport]] {
        try await withThrowingTaskGroup(of: (ServiceName, ReplicaReport).self) { group in
            for (service, replicas) in self.endpoints.statsEndpoints {
                for endpoint in replicas {
                    group.addTask {
                        let reply = try await HTTPFetch.get(endpoint.address, "/stats?request=\(requestID)")
                        let report = try JSONDecoder().decode(StatsReport.self, from: Data(reply.body.utf8))
                        return (service, ReplicaReport(endpoint: endpoint, report: report))
                    }
                }
            }
            var reports: [ServiceName: [ReplicaReport]] = [:]
            for try await (service, report) in group { reports[service, default: []].append(report) }
            return reports.mapValues { $0.sorted { $0.endpoint.replica < $1.endpoint.replica } }
        }
    }
}
