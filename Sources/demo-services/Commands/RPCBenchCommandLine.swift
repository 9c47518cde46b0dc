import DemoTopology

/// The `rpcbench` command line that drives launched topologies through their gateways (`--target demo=…`),
/// printed by `launch` so a bench run can be pointed at them by copy and paste.
enum RPCBenchCommandLine {
    /// The command for `topologies` (the one with propagation on as the target, the one with it off for the
    /// comparison), or nil when none propagates (rpcbench's storm phase needs one that does).
    static func render(_ topologies: [TopologyEndpoints]) -> String? {
        guard let on = topologies.first(where: { $0.propagation == "on" }), let gateway = on.rpc[.gateway] else { return nil }
        var words = ["swift run -c release rpcbench", "--target demo=\(gateway)"]
        words += Self.stats(on, flag: "--demo-stats")
        if let off = topologies.first(where: { $0.propagation == "off" }), let offGateway = off.rpc[.gateway] {
            words.append("--demo-off-target \(offGateway)")
            words += Self.stats(off, flag: "--demo-off-stats")
        }
        return words.joined(separator: " ")
    }

    private static func stats(_ topology: TopologyEndpoints, flag: String) -> [String] {
        ServiceName.rpcServices.compactMap { service in
            topology.http[service].map { "\(flag) \(NamedEndpoint(service: service, endpoint: $0).argument)" }
        }
    }
}
