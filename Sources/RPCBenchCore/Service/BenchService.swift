import DeadlineRPC
import NIOCore

/// The bench's service, one instance per server (hop): the victims' echo, the storm's cooperative work (forwarded
/// along the chain), and the stats and records methods a remote bench client reads.
///
/// Handlers of tracked calls record a ``HandlerRecord`` with the shared clock's readings: when they started, when
/// their task was cancelled (from a task cancellation handler, so the instant the runtime cancelled the task),
/// when their own code noticed, and when they returned.
public final class BenchService: Sendable {
    /// This server's position in the chain, from 1.
    public let hop: Int
    /// The records of tracked calls this server handled.
    public let log: HandlerLog
    /// The clients to the next hop, when there is one.
    public let nextHop: NextHopClients?
    private let topology: TopologyRegistry?

    /// Creates the service for hop `hop`; `nextHop` is nil at the last hop. `topology`, when given, is what the
    /// stats and records methods report.
    public init(hop: Int, nextHop: NextHopClients?, topology: TopologyRegistry?) {
        self.hop = hop
        self.log = HandlerLog()
        self.nextHop = nextHop
        self.topology = topology
    }

    /// The router serving ``BenchMethods``.
    public var router: Router {
        var router = Router()
        router.unary(BenchMethods.echo) { request, _ in
            try await self.echo(request)
        }
        router.unary(BenchMethods.work) { request, _ in
            try await self.work(request)
        }
        router.unary(BenchMethods.stats) { request, _ in
            guard let topology = self.topology else {
                throw RPCError(code: .unimplemented, message: "This server does not report its topology.")
            }
            return topology.snapshot(servingHop: self.hop, trimMemory: request.trimMemory)
        }
        router.serverStreaming(BenchMethods.records) { _, writer, _ in
            guard let topology = self.topology else {
                throw RPCError(code: .unimplemented, message: "This server does not report its topology.")
            }
            let records = topology.drainRecords()
            var start = 0
            repeat {
                let end = min(records.count, start + 2_000)
                try await writer.write(RecordBatch(records: Array(records[start..<end])))
                start = end
            } while start < records.count
        }
        return router
    }

    /// Closes the next-hop clients.
    public func close() async {
        await self.nextHop?.close()
    }

    private func echo(_ request: BenchRequest) async throws -> ByteBuffer {
        if request.workNanoseconds > 0 {
            let outcome = await CooperativeWork.perform(
                request.workKind,
                nanoseconds: request.workNanoseconds,
                unit: request.workUnitNanoseconds
            )
            if !outcome.completed { throw CancellationError() }
        }
        return request.payload
    }

    private func work(_ request: BenchRequest) async throws -> ByteBuffer {
        let startedAt = BenchClock.now()
        let mark = CancellationMark()
        let outcome = await withTaskCancellationHandler {
            await self.forwardOrWork(request)
        } onCancel: {
            mark.mark()
        }
        self.log.record(request, hop: self.hop, startedAt: startedAt, cancelledAt: mark.value, outcome: outcome)
        if Task.isCancelled { throw CancellationError() }
        return ByteBuffer()
    }

    /// At a middle hop, calls the next hop (through the propagating or the leaking client) and waits; at the
    /// last hop, does the work.
    private func forwardOrWork(_ request: BenchRequest) async -> CooperativeWork.Outcome {
        guard Int(request.hop) < Int(request.hops), let nextHop = self.nextHop else {
            return await CooperativeWork.perform(
                request.workKind,
                nanoseconds: request.workNanoseconds,
                unit: request.workUnitNanoseconds
            )
        }
        let client = request.propagation ? nextHop.propagating : nextHop.leaking
        var completed = false
        do {
            _ = try await client.unary(BenchMethods.work, request.forwarded)
            completed = true
        } catch {
            completed = false
        }
        // A failed next hop is how this hop's code learns of the death when its outbound call hits the shared
        // deadline before this hop's own deadline timer cancels the task.
        return CooperativeWork.Outcome(
            completed: completed,
            observedCancellationAt: Task.isCancelled || !completed ? BenchClock.now() : 0
        )
    }
}
