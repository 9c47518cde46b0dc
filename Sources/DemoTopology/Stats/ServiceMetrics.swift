import Prometheus

/// One service's Prometheus registry: the runtime's server metrics (through `RPCServer.Configuration
/// .metricsFactory`), its clients' metrics — clamped deadlines, calls shed before sending — under the runtime's own
/// names (through `RPCClient.Configuration.metricsFactory`, see `Downstreams`), and the front door's HTTP answers.
///
/// Each service has its own registry (not the process-wide `MetricsSystem`), so that in the all-in-one mode
/// every service's `/metrics` shows only its own figures, as it would in its own process.
package final class ServiceMetrics: Sendable {
    /// The registry `/metrics` renders.
    package let registry = PrometheusCollectorRegistry()

    /// Creates an empty registry.
    package init() {}

    /// The swift-metrics factory the service's `RPCServer` and `RPCClient`s report into.
    package var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: self.registry) }

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
}
