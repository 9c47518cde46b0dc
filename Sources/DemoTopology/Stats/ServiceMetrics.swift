import DeadlineRPC
import Prometheus
import Synchronization

/// One service's Prometheus registry: the runtime's server metrics (through `RPCServer.Configuration
/// .metricsFactory`) plus what the demo adds — clamped deadlines and calls not sent, bridged from each
/// client's `ClientStats` when scraped, and the front door's HTTP answers.
///
/// Each service has its own registry (not the process-wide `MetricsSystem`), so that in the all-in-one mode
/// every service's `/metrics` shows only its own figures, as it would in its own process.
package final class ServiceMetrics: Sendable {
    /// The registry `/metrics` renders.
    package let registry = PrometheusCollectorRegistry()
    private let bridged = Mutex<[String: Int]>([:])

    /// Creates an empty registry.
    package init() {}

    /// The swift-metrics factory the service's `RPCServer` reports into.
    package var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: self.registry) }

    /// Brings `drpc_client_deadline_clamped_total{method}` and `demo_client_calls_not_sent_total{method}` up to
    /// a client's current totals. (`ClientStats` reports to the process-wide `MetricsSystem` only, so the demo
    /// copies its counts into this service's registry.)
    package func bridge(clientStats stats: ClientStats, method: String) {
        self.advance(
            "drpc_client_deadline_clamped",
            help: "Outbound calls whose timeout asked for more than the inherited budget (clamped, never obeyed).",
            method: method,
            to: stats.clampedDeadlines
        )
        self.advance(
            "demo_client_calls_not_sent",
            help: "Outbound calls not sent because their budget was already spent.",
            method: method,
            to: stats.shedLocally
        )
    }

    /// Counts one HTTP answer of the front door.
    package func recordHTTPAnswer(status: Int) {
        self.registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "demo_http_requests", unitName: "total", helpText: "Front door answers by HTTP status."),
            labels: [("code", "\(status)")]
        ).increment()
    }

    /// The Prometheus text exposition of every metric.
    package func render() -> String {
        self.registry.emitToString()
    }

    private func advance(_ name: String, help: String, method: String, to total: Int) {
        let key = "\(name)|\(method)"
        let delta = self.bridged.withLock { seen -> Int in
            let delta = total - (seen[key] ?? 0)
            seen[key] = total
            return delta
        }
        let counter = self.registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "total", helpText: help),
            labels: [("method", method)])
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }
}
