import ArgumentParser

/// A `NAME=host:port` pair from the command line (`--downstream gateway=127.0.0.1:9001`).
package struct NamedEndpoint: Sendable, Hashable, ExpressibleByArgument {
    /// The service.
    package var service: ServiceName
    /// Where it listens.
    package var endpoint: ServiceAddress

    /// Parses `NAME=host:port`.
    package init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let service = ServiceName(rawValue: parts[0]), let endpoint = ServiceAddress(argument: parts[1]) else {
            return nil
        }
        self.service = service
        self.endpoint = endpoint
    }

    /// Creates a pair.
    package init(service: ServiceName, endpoint: ServiceAddress) {
        self.service = service
        self.endpoint = endpoint
    }

    /// `NAME=host:port`.
    package var argument: String { "\(self.service.rawValue)=\(self.endpoint)" }
}
