import DeadlineRPC
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// One service of the topology as it runs, in this process: its RPC server (the front door has an HTTP API
/// instead), an HTTP endpoint with `/metrics` (Prometheus text), `/stats?request=ID` (JSON) and `/tracked` (the
/// records of rpcbench's calls, drained), and its clients
/// to the services it calls. Every RPC service also serves the standard health service, which turns `NOT_SERVING`
/// when graceful shutdown begins, so callers watching it stop picking a replica that drains. A lifecycle `Service`:
/// graceful shutdown drains both servers, then closes the clients.
package final class ServiceNode: Service, Sendable {
    /// Which service this is.
    package let name: ServiceName
    /// Latencies, budgets, propagation.
    package let settings: TopologySettings
    /// Its Prometheus registry.
    package let metrics: ServiceMetrics
    /// Its handler records.
    package let log: HopLog
    /// The RPC server (nil for the front door).
    package let rpcServer: RPCServer?
    /// The HTTP server: the front door's API, or the service's `/metrics` and `/stats`.
    package let httpServer: HTTPServer
    /// The address both servers listen on.
    package let host: String
    private let downstreams: Downstreams

    /// Creates the service; nothing listens until ``run()``.
    /// - Parameters:
    ///   - name: The service.
    ///   - settings: The topology's settings.
    ///   - downstreams: Where the services it calls listen (RPC ports).
    ///   - rpcPort: The RPC port (0 picks a free one; unused by the front door).
    ///   - httpPort: The HTTP port (0 picks a free one).
    ///   - tls: With `--tls`: the service's certificate, and the CA its clients trust; nil: plaintext.
    package convenience init(
        name: ServiceName,
        settings: TopologySettings,
        downstreams endpoints: [ServiceName: ServiceAddress],
        rpcPort: Int = 0,
        httpPort: Int = 0,
        tls: ServiceTLS? = nil
    ) {
        self.init(
            name: name,
            settings: settings,
            targets: endpoints.mapValues { .host($0.host, port: $0.port) },
            host: "127.0.0.1",
            rpcPort: rpcPort,
            httpPort: httpPort,
            tls: tls
        )
    }

    /// Creates the service listening on `host`, calling its downstreams at `targets` (an address each, or a DNS
    /// name of replicas); nothing listens until ``run()``. With `tls`, its RPC server and its clients use TLS.
    package init(
        name: ServiceName,
        settings: TopologySettings,
        targets: [ServiceName: Target],
        host: String,
        rpcPort: Int = 0,
        httpPort: Int = 0,
        tls: ServiceTLS? = nil
    ) {
        self.name = name
        self.host = host
        self.settings = settings
        var logger = Logger(label: "demo.\(name.rawValue)") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = settings.logLevel
        logger[metadataKey: "demo.propagation"] = "\(settings.propagationLabel)"
        let metrics = ServiceMetrics()
        let downstreams = Downstreams(targets: targets, settings: settings, metrics: metrics, logger: logger, tls: tls)
        self.downstreams = downstreams
        let log = HopLog()
        self.metrics = metrics
        self.log = log
        if name == .frontdoor {
            self.rpcServer = nil
            let frontDoor = FrontDoor(settings: settings, downstreams: downstreams, log: log, metrics: metrics)
            self.httpServer = HTTPServer(host: host, port: httpPort) { request in
                switch request.path {
                case "/checkout": return await frontDoor.checkout(request)
                case "/metrics": return .text(metrics.render(), contentType: "text/plain; version=0.0.4")
                case "/stats": return Self.stats(name, settings, nil, nil, log, request)
                default: return .notFound(request.path)
                }
            }
        } else {
            var configuration = RPCServer.Configuration()
            configuration.metricsFactory = metrics.factory
            configuration.stragglerGracePeriod = settings.stragglerGracePeriod
            configuration.drainTimeout = .seconds(5)
            configuration.logger = logger
            if let tls { configuration.transportSecurity = tls.server }
            if name == .gateway { configuration.minimumBudget = settings.gatewayMinimumBudget }
            let watches = HealthWatches()
            configuration.interceptors = [watches]
            let service = DemoService(name: name, settings: settings, downstreams: downstreams, log: log)
            var router = service.router
            router.addHealthService(HealthService())
            let server = RPCServer(host: host, port: rpcPort, router: router, configuration: configuration)
            self.rpcServer = server
            self.httpServer = HTTPServer(host: host, port: httpPort) { request in
                switch request.path {
                case "/metrics": return .text(metrics.render(), contentType: "text/plain; version=0.0.4")
                case "/stats": return Self.stats(name, settings, server, watches, log, request)
                case "/tracked": return Self.tracked(log)
                default: return .notFound(request.path)
                }
            }
        }
    }

    /// The RPC port, once bound (nil for the front door).
    package var rpcEndpoint: ServiceAddress? {
        get async throws {
            guard let server = self.rpcServer else { return nil }
            return ServiceAddress(host: self.host, port: try await server.listeningAddress.port ?? 0)
        }
    }

    /// The HTTP port, once bound.
    package var httpEndpoint: ServiceAddress {
        get async throws { ServiceAddress(host: self.host, port: try await self.httpServer.listeningAddress.port ?? 0) }
    }

    /// Stops accepting calls and requests; the ones in progress finish (within their deadlines), then ``run()``
    /// returns.
    package func beginShutdown() {
        self.rpcServer?.beginGracefulShutdown()
        self.httpServer.beginShutdown()
    }

    /// Serves until graceful shutdown or cancellation, then closes the clients.
    package func run() async throws {
        do {
            try await withThrowingDiscardingTaskGroup { group in
                if let server = self.rpcServer { group.addTask { try await server.run() } }
                group.addTask { try await self.httpServer.run() }
            }
        } catch {
            await self.downstreams.close()
            throw error
        }
        await self.downstreams.close()
    }

    private static func stats(
        _ name: ServiceName,
        _ settings: TopologySettings,
        _ server: RPCServer?,
        _ watches: HealthWatches?,
        _ log: HopLog,
        _ request: HTTPRequest
    ) -> HTTPResponse {
        let report = StatsReport(
            service: name,
            propagation: settings.propagationLabel,
            counters: server.map { StatsReport.Counters($0.stats, excludingHandlers: watches?.count ?? 0) },
            records: log.records(requestID: request.query["request"] ?? ""),
            process: ProcessFigures.current(trimMemory: request.query["trim"] == "1")
        )
        let body = (try? JSONEncoder().encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return .json(body + "\n")
    }

    /// `/tracked`: the finished records of tracked calls (``HopLog/trackedPrefix``) since the last request, as a
    /// JSON array; they are forgotten once answered.
    private static func tracked(_ log: HopLog) -> HTTPResponse {
        let body = (try? JSONEncoder().encode(log.drainTracked())).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        return .json(body + "\n")
    }
}
