import DeadlineRPC
import Foundation
import Testing

@testable import demo_services
import DemoTopology

/// Shared settings and helpers of the demo tests.
enum DemoTestSupport {
    /// The repository root (three levels above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Test settings, sized so that a machine stalled for a second still tells the outcomes apart: a 1 s budget,
    /// slow parts of 3.5 s (so "stopped at the deadline" and "kept working" are 2.5 s apart), a 10 s safety-net
    /// timeout (above every slow part, so with propagation off nothing but the work itself ends them), a 1 s
    /// straggler grace period (a cooperative handler delayed by a loaded machine is not mistaken for one that
    /// ignores cancellation), and no jitter. Recommendations get half the 1 s budget: a fast answer has ~500 ms to
    /// arrive before it counts as late (a test process starting hundreds of tests at once once stalled the first
    /// request by over 250 ms), and a late one still leaves ~500 ms for the fallback page within the budget.
    static func settings(_ propagation: RPCClient.Propagation) -> TopologySettings {
        var settings = TopologySettings()
        for service in ServiceName.allCases {
            settings.latencies[service] = Latency(fixed: service.defaultLatency.fixed)
        }
        settings.latencies[.warehouse] = Latency(fixed: .milliseconds(3_500))
        settings.latencies[.fraud] = Latency(fixed: .milliseconds(3_500))
        settings.coldRecommendations = Latency(fixed: .milliseconds(3_500))
        settings.budget = .seconds(1)
        settings.recommendationsBudget = .milliseconds(500)
        settings.safetyNetTimeout = .seconds(10)
        settings.stragglerGracePeriod = .seconds(1)
        settings.propagation = propagation
        return settings
    }

    /// The scenario with `id`.
    static func scenario(_ id: String, _ settings: TopologySettings) -> Scenario {
        Scenario.all(settings).first { $0.id == id }!
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held. Only for what
    /// no signal reaches: other processes (their `/metrics` scrapes, their exit) — in-process counters of the
    /// runtime are awaited instead (`RPCServer.stats(until:)` in DeadlineRPCTests).
    static func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
        let giveUp = ContinuousClock.now + timeout
        while ContinuousClock.now < giveUp {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    /// A service's `/metrics`, parsed.
    static func scrape(_ endpoint: ServiceAddress) async throws -> PrometheusScrape {
        PrometheusScrape(try await HTTPFetch.get(endpoint, "/metrics", timeout: .seconds(30)).body)
    }

    /// The built `demo-services` executable (as the runtime's multi-process echo test finds it).
    static func executable() throws -> URL {
        for configuration in ["debug", "release"] {
            for triple in ["", "x86_64-unknown-linux-gnu/", "aarch64-unknown-linux-gnu/"] {
                let url = Self.root.appendingPathComponent(".build/\(triple)\(configuration)/demo-services")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
        }
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("demo-services")
        if FileManager.default.isExecutableFile(atPath: sibling.path) { return sibling }
        throw RPCError(code: .notFound, message: "demo-services was not built; run `swift build` first.")
    }
}
