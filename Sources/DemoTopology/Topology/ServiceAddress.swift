import ArgumentParser

/// A `host:port` a demo service listens on (127.0.0.1, or a test-bed host's address).
package struct ServiceAddress: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByArgument {
    /// The host.
    package var host: String
    /// The port.
    package var port: Int

    /// Creates an endpoint.
    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (or just a port, on 127.0.0.1).
    package init?(argument: String) {
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
    package var description: String { "\(self.host):\(self.port)" }
}
