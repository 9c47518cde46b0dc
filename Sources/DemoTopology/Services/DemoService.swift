import DeadlineRPC
import NIOCore
import NIOPosix

/// One RPC service of the checkout path: its handler (simulated work, then its downstream calls), and the
/// record of every run in its ``HopLog``.
///
/// Every service but one works cooperatively (`Task.sleep`, which ends the moment the handler's task is
/// cancelled). The fraud service ignores cancellation on purpose: it waits on a timer no cancellation reaches,
/// so the runtime's straggler detector has something to find.
package struct DemoService: Sendable {
    /// Which service this is.
    package let name: ServiceName
    /// Latencies and budgets.
    package let settings: TopologySettings
    /// Clients to the services it calls.
    package let downstreams: Downstreams
    /// Where its handler runs are recorded.
    package let log: HopLog

    /// The router serving this service's method.
    package var router: Router {
        var router = Router()
        let service = self
        router.unary(DemoAPI.method(self.name)) { request, context in
            try await service.recorded(context) { try await service.handle(request, context) }
        }
        return router
    }

    /// Runs `body`, recording when it started and ended, the call's deadline, and how it ended.
    private func recorded(_ context: CallContext, _ body: () async throws -> ServiceReply) async throws -> ServiceReply {
        let requestID = context.metadata.first(forKey: DemoAPI.requestIDKey) ?? "-"
        let ticket = self.log.start(
            HopRecord(
                requestID: requestID,
                service: self.name,
                hopCount: context.hopCount,
                startedNanoseconds: Deadline.now().uptimeNanoseconds,
                deadlineNanoseconds: context.deadline.map(\.uptimeNanoseconds)
            )
        )
        let log = self.log
        do {
            // The cancellation handler notes the instant the runtime cancelled the handler's task (rpcbench's
            // cancel → handler figures); it changes nothing in how the handler runs.
            let reply = try await withTaskCancellationHandler {
                try await body()
            } onCancel: {
                log.markCancelled(ticket, at: Deadline.now().uptimeNanoseconds)
            }
            if let reason = context.cancelReason {
                self.log.finish(ticket, outcome: .cancelled, detail: "\(reason)", at: Deadline.now().uptimeNanoseconds, completed: true)
            } else {
                self.log.finish(ticket, outcome: .ok, detail: nil, at: Deadline.now().uptimeNanoseconds, completed: true)
            }
            return reply
        } catch {
            let now = Deadline.now().uptimeNanoseconds
            if let reason = context.cancelReason {
                self.log.finish(ticket, outcome: .cancelled, detail: "\(reason)", at: now, completed: false)
            } else if let error = error as? RPCError, let reason = error.cancelReason {
                // A downstream call inherited this call's deadline or cancellation and reported it first (both
                // fire at the same instant): the handler stopped for the same cause.
                self.log.finish(ticket, outcome: .cancelled, detail: "\(reason)", at: now, completed: false)
            } else if let error = error as? RPCError {
                self.log.finish(ticket, outcome: .failed, detail: "\(error.code)", at: now, completed: false)
            } else {
                self.log.finish(ticket, outcome: .failed, detail: "\(error)", at: now, completed: false)
            }
            throw error
        }
    }

    /// The service's behaviour.
    private func handle(_ request: CheckoutRequest, _ context: CallContext) async throws -> ServiceReply {
        let requestID = context.metadata.first(forKey: DemoAPI.requestIDKey) ?? "-"
        switch self.name {
        case .frontdoor, .gateway:
            return try await self.checkout(request, requestID: requestID)
        case .catalog:
            try await Task.sleep(for: self.settings.latency(.catalog).sample())
            return ServiceReply(service: "catalog", summary: "\(request.item): in the catalog")
        case .pricing:
            try await Task.sleep(for: self.settings.latency(.pricing).sample())
            let stock = try await self.downstreams.call(.inventory, request, requestID: requestID)
            return ServiceReply(service: "pricing", summary: "\(request.quantity) × \(request.item) quoted; \(stock.summary)")
        case .inventory:
            try await Task.sleep(for: self.settings.latency(.inventory).sample())
            if request.isStockedLocally {
                return ServiceReply(service: "inventory", summary: "in local stock")
            }
            let located = try await self.downstreams.call(.warehouse, request, requestID: requestID)
            return ServiceReply(service: "inventory", summary: located.summary)
        case .warehouse:
            try await Task.sleep(for: self.settings.latency(.warehouse).sample())
            return ServiceReply(service: "warehouse", summary: "located in the remote warehouse")
        case .recommendations:
            let latency = request.isNewUser ? self.settings.coldRecommendations : self.settings.latency(.recommendations)
            try await Task.sleep(for: latency.sample())
            return ServiceReply(service: "recommendations", summary: "picked for \(request.user)")
        case .fraud:
            await Self.sleepIgnoringCancellation(self.settings.latency(.fraud).sample())
            return ServiceReply(service: "fraud", summary: "order approved")
        }
    }

    /// The gateway: catalog, pricing (and fraud for large orders) must all answer — the first failure cancels the
    /// others — while recommendations, which are not critical, get a slice of the budget and a fallback.
    private func checkout(_ request: CheckoutRequest, requestID: String) async throws -> ServiceReply {
        try await Task.sleep(for: self.settings.latency(.gateway).sample())
        let downstreams = self.downstreams
        async let recommendations = CallGroup.withFallback(budget: self.settings.recommendationsBudget) {
            try await downstreams.call(.recommendations, request, requestID: requestID)
        } fallback: {
            ServiceReply(service: "recommendations", summary: "bestsellers (fallback)", degraded: ["recommendations"])
        }
        var required: [ServiceName] = [.catalog, .pricing]
        if request.needsFraudCheck { required.append(.fraud) }
        let parts = try await CallGroup.all(required.map { service in
            { @Sendable in try await downstreams.call(service, request, requestID: requestID) }
        })
        let recommended = try await recommendations
        let all = parts + [recommended]
        return ServiceReply(
            service: "gateway",
            summary: all.map { "\($0.service): \($0.summary)" }.joined(separator: "; "),
            degraded: all.flatMap(\.degraded)
        )
    }

    /// Waits `duration` on an event-loop timer. No cancellation reaches it: this is the bug the fraud service
    /// has on purpose (like a blocking call or a loop that never checks `Task.isCancelled`).
    package static func sleepIgnoringCancellation(_ duration: Duration) async {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.scheduleTask(in: .nanoseconds(nanoseconds)) { continuation.resume() }
        }
    }
}
