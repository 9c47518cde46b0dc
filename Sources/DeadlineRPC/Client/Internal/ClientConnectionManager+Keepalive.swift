import NIOCore

// Keepalive pacing shared by the client's connections.
extension ClientConnectionManager {
    /// The keepalive interval connections use now: the configured one, times ``keepaliveScale``.
    var keepaliveInterval: Duration? {
        guard let interval = self.configuration.keepalive?.interval else { return nil }
        let (scaled, overflow) = interval.nanoseconds.multipliedReportingOverflow(by: self.keepaliveScale)
        return .nanoseconds(overflow ? .max : scaled)
    }

    /// A server answered this client's pings with `GOAWAY(TOO_MANY_PINGS)`: its ping policy is stricter than the
    /// configured interval, and every connection would be closed the same way, one after another. So the interval
    /// doubles for the connections after it (grpc-go does the same), and says so once per doubling.
    func pingsRefused() {
        self.eventLoop.assertInEventLoop()
        guard let before = self.keepaliveInterval else { return }
        self.keepaliveScale = self.keepaliveScale.multipliedReportingOverflow(by: 2).overflow ? .max : self.keepaliveScale * 2
        self.configuration.logger.warning(
            "The server refused this client's keepalive pings as too frequent (TOO_MANY_PINGS); the interval goes from \(before) to \(self.keepaliveInterval ?? before) for new connections",
            metadata: ["drpc.target": "\(self.targetName)"]
        )
    }
}
