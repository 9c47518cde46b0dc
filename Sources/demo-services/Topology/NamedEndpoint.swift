import ArgumentParser

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
