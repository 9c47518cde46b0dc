import DeadlineRPC
import Logging

/// A service's clients to the services it calls, one `RPCClient` each, built with the topology's propagation
/// setting. Every call carries the request id and the service's own "safety net" timeout — which, with
/// propagation on, the runtime clamps to the budget inherited from the call being served.
///
/// A client of several replicas (a DNS name, or a list) also watches each replica's health service and retries
/// an idempotent call that failed `unavailable` on another replica (`RetryInterceptor`, one retry budget for all
/// of the service's clients): a replica that is killed or drains costs no call.
package final class Downstreams: Sendable {
    private let clients: [ServiceName: RPCClient]
    private let safetyNetTimeout: Duration

    /// Creates clients to `endpoints`; they connect on their first call. Their metrics
    /// (`drpc_client_deadline_clamped_total`, `drpc_client_calls_shed_total`, …) go to `metrics`, the service's own
    /// registry, so they appear in its `/metrics` under the runtime's names.
    package convenience init(endpoints: [ServiceName: ServiceAddress], settings: TopologySettings, metrics: ServiceMetrics, logger: Logger, tls: ServiceTLS? = nil) {
        self.init(targets: endpoints.mapValues { .host($0.host, port: $0.port) }, settings: settings, metrics: metrics, logger: logger, tls: tls)
    }

    /// Creates clients to `targets` (one address, a list of replicas, or a DNS name of replicas); they connect
    /// (and resolve) on their first call. Metrics go to `metrics`, as for ``init(endpoints:settings:metrics:logger:tls:)``.
    /// With `tls`, every client speaks TLS and checks its service's certificate and name.
    package init(targets: [ServiceName: Target], settings: TopologySettings, metrics: ServiceMetrics, logger: Logger, tls: ServiceTLS? = nil) {
        var configuration = RPCClient.Configuration()
        configuration.propagation = settings.propagation
        configuration.metricsFactory = metrics.factory
        var clientLogger = logger
        // The demo's safety-net timeout is clamped on every call on purpose; the runtime's once-per-method
        // warning about it would only repeat what `/metrics` counts.
        clientLogger.logLevel = .error
        configuration.logger = clientLogger
        var replicated = configuration
        replicated.healthChecking = HealthChecking()
        replicated.interceptors = [RetryInterceptor(factory: metrics.factory)]
        self.clients = Dictionary(uniqueKeysWithValues: targets.map { service, target in
            var chosen = Self.hasReplicas(target) ? replicated : configuration
            if let tls { chosen.transportSecurity = tls.client(to: service) }
            return (service, RPCClient(target: target, configuration: chosen))
        })
        self.safetyNetTimeout = settings.safetyNetTimeout
    }

    /// Whether `target` may name several replicas: a DNS name, or a list of more than one.
    private static func hasReplicas(_ target: Target) -> Bool {
        switch target.kind {
        case .dns: return true
        case .endpoints(let endpoints): return endpoints.count > 1
        }
    }

    /// Calls `service` with `request`, passing `requestID` along as metadata, with `timeout` (by default the
    /// safety net).
    package func call(
        _ service: ServiceName,
        _ request: CheckoutRequest,
        requestID: String,
        timeout: Duration? = nil
    ) async throws -> ServiceReply {
        guard let client = self.clients[service] else {
            throw RPCError(code: .unavailable, message: "No address was given for \(service.rawValue) (--downstream \(service.rawValue)=HOST:PORT).")
        }
        var metadata = Metadata()
        metadata.add(requestID, forKey: DemoAPI.requestIDKey)
        return try await client.unary(
            DemoAPI.method(service),
            request,
            options: CallOptions(timeout: timeout ?? self.safetyNetTimeout, metadata: metadata)
        )
    }

    /// Closes every client.
    package func close() async {
        for client in self.clients.values { await client.close() }
    }
}
