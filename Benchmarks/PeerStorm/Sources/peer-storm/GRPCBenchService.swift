import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOCore
import RPCBenchCore

/// rpcbench's bench service served by grpc-swift-2, one instance per server (hop): the victims' echo and the
/// storm's cooperative work, forwarded along the chain, with the same handler records as rpcbench's
/// `BenchService` (started, task cancelled, noticed, ended, completed) on the same monotonic clock.
///
/// What a grpc-swift-2 user has to do by hand, and this service does as such a user would:
/// - **Deadline to the next hop.** `ServerContext` carries no deadline, so a middle hop reads the `grpc-timeout`
///   request header from the metadata, takes its arrival (the handler's start) as the reference, and passes the
///   rest as `CallOptions.timeout` on its call to the next hop.
/// - **Cancellation to the next hop.** The next-hop call runs in the handler's task, so cancelling that task
///   cancels the call. grpc-swift-2 does not cancel the task itself (see ``HandlerCancellation``).
final class GRPCBenchService: RegistrableRPCService, Sendable {
    /// This server's position in the chain, from 1.
    let hop: Int
    /// The records of tracked calls this server handled.
    let log = HandlerLog()
    /// Handlers started and finished.
    let counters = HopCounters()
    /// The client to the next hop, when there is one.
    let nextHop: GRPCClient<HTTP2ClientTransport.Posix>?
    /// How handlers learn their RPC was cancelled.
    let cancellation: HandlerCancellation

    /// Creates the service for hop `hop`; `nextHop` is nil at the last hop.
    init(hop: Int, nextHop: GRPCClient<HTTP2ClientTransport.Posix>?, cancellation: HandlerCancellation) {
        self.hop = hop
        self.nextHop = nextHop
        self.cancellation = cancellation
    }

    /// Registers echo and work.
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: GRPCBench.echo,
            deserializer: BenchRequestDeserializer(),
            serializer: RawBytesSerializer()
        ) { stream, context in
            try await self.counters.count {
                let request = try await ServerRequest(stream: stream)
                let payload = try await self.echo(request.message, context: context)
                return StreamingServerResponse(single: ServerResponse(message: payload))
            }
        }
        router.registerHandler(
            forMethod: GRPCBench.work,
            deserializer: BenchRequestDeserializer(),
            serializer: RawBytesSerializer()
        ) { stream, context in
            try await self.counters.count {
                let request = try await ServerRequest(stream: stream)
                try await self.work(request, context: context)
                return StreamingServerResponse(single: ServerResponse(message: []))
            }
        }
    }

    private func echo(_ request: BenchRequest, context: ServerContext) async throws -> [UInt8] {
        if request.workNanoseconds > 0 {
            let outcome = await self.cancellable(context) {
                await CooperativeWork.perform(request.workKind, nanoseconds: request.workNanoseconds, unit: request.workUnitNanoseconds)
            }
            if !outcome.completed { throw RPCError(code: .cancelled, message: "The echo was cancelled.") }
        }
        return Array(request.payload.readableBytesView)
    }

    private func work(_ request: ServerRequest<BenchRequest>, context: ServerContext) async throws {
        let startedAt = BenchClock.now()
        let message = request.message
        // The only deadline a grpc-swift-2 handler can learn: the caller's budget, parsed from its header.
        let budget = request.metadata[stringValues: GRPCTimeoutHeader.name].first { _ in true }.flatMap(GRPCTimeoutHeader.parse)
        let deadline = budget.map { startedAt + $0.benchNanoseconds }
        let mark = CancellationMark()
        let outcome = await self.cancellable(context) {
            await withTaskCancellationHandler {
                await self.forwardOrWork(message, deadline: deadline)
            } onCancel: {
                mark.mark()
            }
        }
        self.log.record(message, hop: self.hop, startedAt: startedAt, cancelledAt: mark.value, outcome: outcome)
        if !outcome.completed { throw RPCError(code: .cancelled, message: "The work was cancelled.") }
    }

    /// Runs `work` as ``cancellation`` says: as it is (`task`), or in a child task that is cancelled when the RPC
    /// is (`rpc-handle`).
    private func cancellable(
        _ context: ServerContext,
        _ work: @escaping @Sendable () async -> CooperativeWork.Outcome
    ) async -> CooperativeWork.Outcome {
        switch self.cancellation {
        case .task:
            return await work()
        case .rpcHandle:
            return await withTaskGroup(of: CooperativeWork.Outcome?.self) { group in
                group.addTask { await work() }
                group.addTask {
                    // Returns when the RPC is cancelled, or throws when the work ended first and cancelled this.
                    _ = try? await context.cancellation.cancelled
                    return nil
                }
                var result: CooperativeWork.Outcome?
                while let next = await group.next() {
                    if let outcome = next { result = outcome }
                    group.cancelAll()
                }
                return result ?? CooperativeWork.Outcome(completed: false, observedCancellationAt: BenchClock.now())
            }
        }
    }

    /// At a middle hop, calls the next hop with the remaining budget (when the caller sent one and propagation is
    /// on) and waits; at the last hop, does the work. A middle hop "notices" the death when its call fails or its
    /// task is cancelled.
    private func forwardOrWork(_ request: BenchRequest, deadline: Int64?) async -> CooperativeWork.Outcome {
        guard Int(request.hop) < Int(request.hops), let nextHop = self.nextHop else {
            return await CooperativeWork.perform(request.workKind, nanoseconds: request.workNanoseconds, unit: request.workUnitNanoseconds)
        }
        var options = CallOptions.defaults
        if request.propagation, let deadline {
            options.timeout = .nanoseconds(max(1_000, deadline - BenchClock.now()))
        }
        var completed = false
        do {
            try await nextHop.unary(
                request: ClientRequest(message: request.forwarded),
                descriptor: GRPCBench.work,
                serializer: BenchRequestSerializer(),
                deserializer: RawBytesDeserializer(),
                options: options
            ) { response in
                _ = try response.message
            }
            completed = true
        } catch {
            completed = false
        }
        return CooperativeWork.Outcome(
            completed: completed,
            observedCancellationAt: !completed || Task.isCancelled ? BenchClock.now() : 0
        )
    }
}
