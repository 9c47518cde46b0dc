/// Where a running topology can be reached: the front door, and each service's HTTP endpoint for `/stats` and
/// `/metrics` (the front door's is the front door itself).
struct TopologyEndpoints: Sendable, Hashable {
    /// `on` or `off`: whether its services propagate deadlines.
    var propagation: String
    /// The HTTP front door.
    var front: Endpoint
    /// Each service's HTTP endpoint (may be empty when unknown: the runner then reports HTTP outcomes only).
    var http: [ServiceName: Endpoint]
    /// Each RPC service's RPC endpoint, when known.
    var rpc: [ServiceName: Endpoint] = [:]

    /// One line per service, for the console.
    var listing: String {
        var lines = ["  front door   http://\(self.front)/checkout  (propagation \(self.propagation))"]
        for service in ServiceName.rpcServices {
            guard let http = self.http[service] else { continue }
            let rpc = self.rpc[service].map { "rpc \($0)" } ?? ""
            lines.append("  \(service.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0))\(rpc.padding(toLength: 22, withPad: " ", startingAt: 0))http://\(http)/metrics")
        }
        return lines.joined(separator: "\n")
    }
}
