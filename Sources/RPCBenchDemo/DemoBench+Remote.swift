import DemoTopology
import Foundation
import RPCBenchCore

extension DemoBench {
    /// Runs the bench against topologies started elsewhere (`demo-services launch`): `topologies[0]` must
    /// propagate, `topologies[1]` (optional) must not — their services' `/stats` say so — and every RPC service
    /// needs its HTTP endpoint, since in-flight handlers, stragglers and memory are read from each.
    package static func runRemote(
        _ configuration: BenchConfiguration,
        topologies: [TopologyEndpoints],
        label: String,
        progress: ProgressLine? = nil
    ) async throws -> BenchReport {
        for (index, topology) in topologies.enumerated() {
            let missing = ServiceName.rpcServices.filter { topology.http[$0] == nil }.map(\.rawValue)
            guard missing.isEmpty else {
                throw DemoTargetError("No stats endpoint for \(missing.joined(separator: ", ")): give every service's HTTP address (--demo\(index == 0 ? "" : "-off")-stats NAME=HOST:PORT, as `demo-services launch` prints them).")
            }
            let expected = index == 0 ? "on" : "off"
            let reply = try await HTTPFetch.get(topology.http[.gateway]!, "/stats")
            let report = try JSONDecoder().decode(StatsReport.self, from: Data(reply.body.utf8))
            guard report.propagation == expected else {
                throw DemoTargetError("The gateway at \(topology.http[.gateway]!) has propagation \(report.propagation); the \(index == 0 ? "--target" : "--demo-off-target") topology must have it \(expected).")
            }
        }
        return try await Self.run(configuration, target: DemoTarget(topologies: topologies, label: label), progress: progress)
    }
}
