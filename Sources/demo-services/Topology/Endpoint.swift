import ArgumentParser

/// A `host:port` a service listens on (always 127.0.0.1 in the demo).
struct Endpoint: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByArgument {
    /// The host.
    var host: String
    /// The port.
    var port: Int

    /// Creates an endpoint.
    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (or just a port, on 127.0.0.1).
    init?(argument: String) {
        let parts = argument.split(separator: ":")
        if parts.count == 1, let port = Int(parts[0]) {
            self.init(host: "127.0.0.1", port: port)
        } else if parts.count == 2, let port = Int(parts[1]) {
            self.init(host: String(parts[0]), port: port)
        } else {
            return nil
        }
    }

    /// `host:port`.
    var description: String { "\(self.host):\(self.port)" }
}

/// A `NAME=host:port` pair from the command line (`--downstream gateway=127.0.0.1:9001`).
struct NamedEndpoint: Sendable, Hashable, ExpressibleByArgument {
    /// The service.
    var service: ServiceName
    /// Where it listens.
    var endpoint: Endpoint

    /// Parses `NAME=host:port`.
    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let service = ServiceName(rawValue: parts[0]), let endpoint = Endpoint(argument: parts[1]) else {
            return nil
        }
        self.service = service
        self.endpoint = endpoint
    }

    /// Creates a pair.
    init(service: ServiceName, endpoint: Endpoint) {
        self.service = service
        self.endpoint = endpoint
    }

    /// `NAME=host:port`.
    var argument: String { "\(self.service.rawValue)=\(self.endpoint)" }
}
