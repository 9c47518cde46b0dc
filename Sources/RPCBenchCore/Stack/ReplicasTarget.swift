import DeadlineRPC

/// Several `rpcbench serve` replicas behind one DeadlineRPC target, read one by one over their stats and records
/// methods and added up: hop k's counters are the sum of every replica's hop k, the records all replicas' records.
///
/// The load goes through the balancer of the bench's own clients; this reads each replica on a control client of
/// its own. A DNS target's replicas are the addresses it had when the target was made.
public struct ReplicasTarget: BenchTarget {
    /// The target the load is sent to.
    public let target: Target
    /// One control target per replica.
    public let replicas: [RemoteTarget]
    /// The first replica's host.
    public var host: String { self.replicas.first?.host ?? "" }
    /// The first replica's port.
    public var port: Int { self.replicas.first?.port ?? 0 }
    /// The target as given (`h:p,h:p` or `dns:///name:port`).
    public var label: String { self.target.description }

    /// Reads the replicas of `target`: a list's endpoints, or the addresses `resolver` gives a DNS name now.
    /// Throws when a DNS name has no address.
    public static func make(_ target: Target, resolver: any NameResolver = SystemResolver()) async throws -> ReplicasTarget {
        let endpoints: [Endpoint]
        switch target.kind {
        case .endpoints(let list):
            endpoints = list
        case .dns(let host, let port):
            endpoints = try await resolver.resolve(host: host, port: port)
        }
        guard !endpoints.isEmpty else {
            throw RPCError(code: .unavailable, message: "The target \(target) has no endpoint.")
        }
        return ReplicasTarget(target: target, replicas: endpoints.map { RemoteTarget(host: $0.host, port: $0.port) })
    }

    /// Every replica's counters added up per hop (replicas must serve chains of one length); memory summed over the
    /// replicas' processes; the clock of the first replica.
    public func snapshot(trimMemory: Bool) async throws -> TopologySnapshot {
        var snapshots: [TopologySnapshot] = []
        for replica in self.replicas {
            snapshots.append(try await Self.naming(replica) { try await replica.snapshot(trimMemory: trimMemory) })
        }
        return Self.sum(snapshots)
    }

    /// Every replica's handler records.
    public func drainRecords() async throws -> [HandlerRecord] {
        var records: [HandlerRecord] = []
        for replica in self.replicas {
            records.append(contentsOf: try await Self.naming(replica) { try await replica.drainRecords() })
        }
        return records
    }

    /// Runs `body`; a failure says which replica did not answer (one of a DNS name's addresses that serves nothing,
    /// say).
    private static func naming<Result>(_ replica: RemoteTarget, _ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as RPCError {
            throw RPCError(code: error.code, message: "Replica \(replica.label) of the target did not answer: \(error.message)", cause: error)
        }
    }

    /// Closes the control clients.
    public func close() async {
        for replica in self.replicas { await replica.close() }
    }

    /// Adds snapshots up hop by hop (the first snapshot's hops and ports; a shorter chain adds nothing beyond it).
    public static func sum(_ snapshots: [TopologySnapshot]) -> TopologySnapshot {
        guard var total = snapshots.first else {
            return TopologySnapshot(hops: [], rssBytes: 0, peakRSSBytes: 0, clockNanoseconds: 0)
        }
        for snapshot in snapshots.dropFirst() {
            for (index, hop) in snapshot.hops.enumerated() where index < total.hops.count {
                total.hops[index].callsStarted += hop.callsStarted
                total.hops[index].callsFinished += hop.callsFinished
                total.hops[index].handlersInFlight += hop.handlersInFlight
                total.hops[index].stragglersNow += hop.stragglersNow
                total.hops[index].stragglersTotal += hop.stragglersTotal
                total.hops[index].shedCalls += hop.shedCalls
                total.hops[index].refusedCalls += hop.refusedCalls
                total.hops[index].connections += hop.connections
            }
            total.rssBytes += snapshot.rssBytes
            total.peakRSSBytes += snapshot.peakRSSBytes
        }
        return total
    }
}
