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
            let busy = after.values.contains { report in
                (report.counters?.handlersInFlight ?? 0) > 0 || report.records.contains { $0.endedNanoseconds == nil }
            }
            if busy {
                quietRounds = 0
                try await Task.sleep(for: self.pollInterval)
            } else {
                quietRounds += 1
                if result.settledAfterAnswer == nil || quietRounds == 1 { result.settledAfterAnswer = Deadline.now() - answeredAt }
            }
        }

        let front = after[.frontdoor]?.records.first
        let requestDeadline = front?.deadlineNanoseconds ?? (start.uptimeNanoseconds + Int64(result.budgetMs) * 1_000_000)
        for service in ServiceName.rpcServices {
            guard let report = after[service] else { continue }
            var hop = HopResult(service: service)
            hop.runs = report.records.count
            if let counters = report.counters, let old = before[service]?.counters {
                hop.shed = counters.shedCalls - old.shedCalls
                hop.stragglers = counters.stragglersTotal - old.stragglersTotal
            }
            for record in report.records {
                guard let ended = record.endedNanoseconds else {
                    hop.stillRunning = true
                    continue
                }
                hop.outcome = record.outcome
                hop.detail = record.detail
                let deadAt = min(requestDeadline, record.deadlineNanoseconds ?? .max)
                if ended > deadAt {
                    hop.ranPastBudget = (hop.ranPastBudget ?? .zero) + .nanoseconds(ended - deadAt)
                }
            }
            result.hops[service] = hop
        }
        return result
    }

    /// Every known service's `/stats` for `requestID`.
    private func reports(requestID: String) async throws -> [ServiceName: StatsReport] {
        try await withThrowingTaskGroup(of: (ServiceName, StatsReport).self) { group in
            for (service, endpoint) in self.endpoints.http {
                group.addTask {
                    let reply = try await HTTPFetch.get(endpoint, "/stats?request=\(requestID)")
                    return (service, try JSONDecoder().decode(StatsReport.self, from: Data(reply.body.utf8)))
                }
            }
            var reports: [ServiceName: StatsReport] = [:]
            for try await (service, report) in group { reports[service] = report }
            return reports
        }
    }
}
