import DeadlineRPC
import Logging

/// A service's clients to the services it calls, one `RPCClient` each, built with the topology's propagation
/// setting. Every call carries the request id and the service's own "safety net" timeout — which, with
/// propagation on, the runtime clamps to the budget inherited from the call being served.
package final class Downstreams: Sendable {
    private let clients: [ServiceName: RPCClient]
    private let safetyNetTimeout: Duration

    /// Creates clients to `endpoints`; they connect on their first call. Their metrics
    /// (`drpc_client_deadline_clamped_total`, `drpc_client_calls_shed_total`, …) go to `metrics`, the service's own
    /// registry, so they appear in its `/metrics` under the runtime's names.
    package init(endpoints: [ServiceName: ServiceAddress], settings: TopologySettings, metrics: ServiceMetrics, logger: Logger) {
        var configuration = RPCClient.Configuration()
        configuration.propagation = settings.propagation
        configuration.metricsFactory = metrics.factory
        var clientLogger = logger
        // The demo's safety-net timeout is clamped on every call on purpose; the runtime's once-per-method
        // warning about it would only repeat what `/metrics` counts.
        clientLogger.logLevel = .error
        configuration.logger = clientLogger
        self.clients = endpoints.mapValues { RPCClient(host: $0.host, port: $0.port, configuration: configuration) }
        self.safetyNetTimeout = settings.safetyNetTimeout
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
