import DemoTopology
import Foundation
import RPCBenchCore

/// The demo topology as a bench target: calls go to the RPC gateway; every server-side figure — counters,
/// handler records, memory, clock — is read from the services themselves, over each one's HTTP `/stats` and
/// `/tracked`, the same way whether they run in this process or in `demo-services launch`'s processes.
///
/// The bench's hops are the topology's depths: 1 the gateway; 2 catalog, pricing, recommendations and fraud; 3
/// inventory; 4 the warehouse — so "the last hop" is the end of the deepest path (gateway → pricing → inventory
/// → warehouse), and a hop's figures are its services' together (and both topologies', propagation on and off).
package struct DemoTarget: BenchTarget {
    /// The topologies: the one that propagates first, then (if given) the one that does not.
    package let topologies: [TopologyEndpoints]
    /// `demo`, or `demo=HOST:PORT` for a topology started elsewhere.
    package let label: String
    /// How long one `/stats` or `/tracked` exchange may take.
    package var fetchTimeout: Duration = .seconds(10)

    /// 50 ms: each poll is one HTTP exchange (a fresh connection) per service and topology — fourteen — so
    /// polling at the bench's 2 ms through a settle that waits for the fraud check (1.5 s) would cost more CPU than
    /// the storm and use up ephemeral ports; the demo's handlers run for hundreds of milliseconds anyway.
    package var settlePollInterval: Duration { .milliseconds(50) }

    /// The bench's chain length for the demo: the deepest path's services.
    package static let hops = ServiceName.rpcServices.map(\.depth).max() ?? 1

    /// A target over running topologies; each must list its services' RPC (at least the gateway's) and HTTP
    /// endpoints.
    package init(topologies: [TopologyEndpoints], label: String) {
        precondition(!topologies.isEmpty && topologies.allSatisfy { $0.rpc[.gateway] != nil }, "a topology with a gateway")
        self.topologies = topologies
        self.label = label
    }

    /// The gateway of the topology that propagates.
    package var gateway: ServiceAddress { self.topologies[0].rpc[.gateway]! }
    /// The gateway's host.
    package var host: String { self.gateway.host }
    /// The gateway's port.
    package var port: Int { self.gateway.port }

    /// Every RPC service's counters, summed by depth over the topologies, and the memory of the processes they
    /// run in (each process counted once); the clock is the gateway's.
    package func snapshot(trimMemory: Bool) async throws -> TopologySnapshot {
        let reports = try await self.fetchAll("/stats\(trimMemory ? "?trim=1" : "")", as: StatsReport.self)
        var hops = (1...Self.hops).map { HopSnapshot(hop: $0, port: $0 == 1 ? self.port : 0, callsStarted: 0, callsFinished: 0, handlersInFlight: 0) }
        var processes: [Int32: ProcessFigures] = [:]
        var clock: Int64 = 0
        for (index, service, report) in reports {
            processes[report.process.pid] = report.process
            if index == 0 && service == .gateway { clock = report.process.clockNanoseconds }
            guard let counters = report.counters else { continue }
            let hop = min(max(service.depth, 1), Self.hops) - 1
            hops[hop].callsStarted += counters.callsStarted
            hops[hop].callsFinished += counters.callsFinished
            hops[hop].handlersInFlight += counters.handlersInFlight
            hops[hop].stragglersNow += counters.stragglersNow
            hops[hop].stragglersTotal += counters.stragglersTotal
            hops[hop].shedCalls += counters.shedCalls
            hops[hop].refusedCalls += counters.refusedCalls
            hops[hop].connections += counters.connections
        }
        return TopologySnapshot(
            hops: hops,
            rssBytes: processes.values.reduce(0) { $0 + $1.rssBytes },
            peakRSSBytes: processes.values.reduce(0) { $0 + $1.peakRSSBytes },
            clockNanoseconds: clock
        )
    }

    /// Every service's records of tracked (storm) calls since the last drain, as handler records at the
    /// service's depth.
    package func drainRecords() async throws -> [HandlerRecord] {
        try await self.fetchAll("/tracked", as: [HopRecord].self).flatMap { _, _, records in
            records.compactMap(Self.handlerRecord)
        }
    }

    /// A demo handler's record as the bench's: the handler noticed its cancellation when it stopped without an
    /// answer; one that answered anyway (the fraud service) never noticed.
    package static func handlerRecord(_ record: HopRecord) -> HandlerRecord? {
        guard let tag = DemoCheckout.tag(requestID: record.requestID), let ended = record.endedNanoseconds else { return nil }
        let completed = record.completed ?? false
        let cancelled = record.cancelledNanoseconds ?? 0
        return HandlerRecord(
            tag: tag,
            hop: min(max(record.service.depth, 1), Self.hops),
            startedAt: record.startedNanoseconds,
            cancelledAt: cancelled,
            observedAt: cancelled > 0 && !completed ? ended : 0,
            endedAt: ended,
            completed: completed
        )
    }

    /// GETs `path` from every RPC service of every topology at once and decodes each answer.
    private func fetchAll<Value: Decodable & Sendable>(
        _ path: String,
        as type: Value.Type
    ) async throws -> [(topology: Int, service: ServiceName, value: Value)] {
        let timeout = self.fetchTimeout
        return try await withThrowingTaskGroup(of: (Int, ServiceName, Value).self) { group in
            for (index, topology) in self.topologies.enumerated() {
                for service in ServiceName.rpcServices {
                    guard let endpoint = topology.http[service] else { continue }
                    group.addTask {
                        let reply = try await HTTPFetch.get(endpoint, path, timeout: timeout)
                        guard reply.status == 200 else {
                            throw DemoTargetError("GET http://\(endpoint)\(path) (\(service.rawValue)) answered \(reply.status).")
                        }
                        return (index, service, try JSONDecoder().decode(Value.self, from: Data(reply.body.utf8)))
                    }
                }
            }
            var values: [(topology: Int, service: ServiceName, value: Value)] = []
            for try await (index, service, value) in group { values.append((index, service, value)) }
            return values
        }
    }
}
