import ArgumentParser
import DeadlineRPC

/// A `NAME=TARGET` pair from `serve --downstream`: where the calls to a service go — one `host:port`, or
/// `dns:///NAME:PORT` for every replica behind a DNS name (`--downstream pricing=dns:///pricing.on.demo.test:7000`).
package struct NamedTarget: Sendable, Hashable, ExpressibleByArgument {
    /// The service.
    package var service: ServiceName
    /// Where its replicas are.
    package var target: Target

    /// Parses `NAME=host:port` (a port alone means 127.0.0.1), `NAME=host:port,host:port…` or `NAME=dns:///NAME:PORT`.
    package init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let service = ServiceName(rawValue: parts[0]) else { return nil }
        if parts[1].hasPrefix("dns:") || parts[1].contains(",") {
            guard let target = try? Target(parsing: parts[1]) else { return nil }
            self.init(service: service, target: target)
        } else {
            guard let endpoint = ServiceAddress(argument: parts[1]) else { return nil }
            self.init(service: service, target: .host(endpoint.host, port: endpoint.port))
        }
    }

    /// Creates a pair.
    package init(service: ServiceName, target: Target) {
        self.service = service
        self.target = target
    }

    /// `NAME=dns:///pricing.on.demo.test:7000` for a DNS name on `port`.
    package static func dns(_ service: ServiceName, name: String, port: Int) -> NamedTarget {
        NamedTarget(service: service, target: .dns(name, port: port))
    }

    /// `NAME=TARGET`, as `--downstream` takes it.
    package var argument: String {
        switch self.target.kind {
        case .dns(let host, let port): return "\(self.service.rawValue)=dns:///\(host):\(port)"
        case .endpoints(let endpoints):
            return "\(self.service.rawValue)=\(endpoints.map(\.description).joined(separator: ","))"
        }
    }
}
