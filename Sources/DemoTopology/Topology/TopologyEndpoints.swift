/// Where a running topology can be reached: the front door, and each service's HTTP endpoint for `/stats` and
/// `/metrics` (the front door's is the front door itself).
package struct TopologyEndpoints: Sendable, Hashable {
    /// `on` or `off`: whether its services propagate deadlines.
    package var propagation: String
    /// The HTTP front door.
    package var front: ServiceAddress
    /// Each service's HTTP endpoint (may be empty when unknown: the runner then reports HTTP outcomes only).
    package var http: [ServiceName: ServiceAddress]
    /// Each RPC service's RPC endpoint, when known.
    package var rpc: [ServiceName: ServiceAddress] = [:]
    /// The `/stats` endpoints of services that run as several replicas or on hosts whose clocks read differently
    /// (`launch --hosts`); a service not named here is its ``http`` endpoint, one replica, on the runner's clock.
    package var replicas: [ServiceName: [StatsEndpoint]] = [:]

    /// Creates the endpoints of a topology.
    package init(propagation: String, front: ServiceAddress, http: [ServiceName: ServiceAddress], rpc: [ServiceName: ServiceAddress] = [:]) {
        self.propagation = propagation
        self.front = front
        self.http = http
        self.rpc = rpc
    }

    /// Every service's `/stats` endpoints: its ``replicas`` where given, else its ``http`` endpoint.
    package var statsEndpoints: [ServiceName: [StatsEndpoint]] {
        var all = self.http.mapValues { [StatsEndpoint(address: $0)] }
        for (service, replicas) in self.replicas { all[service] = replicas }
        return all
    }

    /// One line per service, for the console.
    package var listing: String {
        var lines = ["  front door   http://\(self.front)/checkout  (propagation \(self.propagation))"]
        for service in ServiceName.rpcServices {
            guard let http = self.http[service] else { continue }
            let rpc = self.rpc[service].map { "rpc \($0)" } ?? ""
            lines.append("  \(service.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0))\(rpc.padding(toLength: 22, withPad: " ", startingAt: 0))http://\(http)/metrics")
        }
        return lines.joined(separator: "\n")
    }
}
