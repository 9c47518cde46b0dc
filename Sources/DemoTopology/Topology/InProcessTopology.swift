/// Runs whole topologies — every service, each on its own ports — inside this process (`swift run
/// demo-services`, and the fast tests).
package enum InProcessTopology {
    /// Starts one topology per entry of `settings` (leaves first, so each service knows its downstreams' ports),
    /// runs `body` with their endpoints, then shuts every service down gracefully and waits for it. With `tls`,
    /// every service serves and calls over TLS with its certificate from it.
    package static func with<Result: Sendable>(
        _ settings: [TopologySettings],
        tls: DemoPKI? = nil,
        _ body: @Sendable ([TopologyEndpoints]) async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var nodes: [ServiceNode] = []
            func shutDown() {
                for node in nodes.reversed() { node.beginShutdown() }
            }
            do {
                var all: [TopologyEndpoints] = []
                for topology in settings {
                    var rpc: [ServiceName: ServiceAddress] = [:]
                    var http: [ServiceName: ServiceAddress] = [:]
                    for name in ServiceName.startOrder {
                        let downstreams = Dictionary(uniqueKeysWithValues: name.downstreams.compactMap { service in
                            rpc[service].map { (service, $0) }
                        })
                        let node = ServiceNode(name: name, settings: topology, downstreams: downstreams, tls: tls?.tls(name))
                        nodes.append(node)
                        group.addTask { try await node.run() }
                        rpc[name] = try await node.rpcEndpoint
                        http[name] = try await node.httpEndpoint
                    }
                    all.append(TopologyEndpoints(propagation: topology.propagationLabel, front: http[.frontdoor]!, http: http, rpc: rpc))
                }
                let result = try await body(all)
                shutDown()
                try await group.waitForAll()
                return result
            } catch {
                shutDown()
                try? await group.waitForAll()
                throw error
            }
        }
    }
}
