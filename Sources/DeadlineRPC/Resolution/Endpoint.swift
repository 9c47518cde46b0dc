/// One replica's address: a host (an IP literal once resolved, or a name) and a port.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// The host: an IPv4 or IPv6 literal, or a name resolved when the connection is opened.
    public var host: String
    /// The TCP port.
    public var port: Int

    /// An endpoint at `host:port`.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with an IPv6 literal in brackets.
    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}
