import CoreMetrics
import Synchronization
import Wire

/// Exports swift-metrics for calls on both sides.
///
/// - Client: `<prefix>_client_calls_total{method, code}` and `<prefix>_client_call_duration_seconds{method}`.
/// - Server: per-hop budget attribution — `<prefix>_server_budget_used_upstream_seconds{method}` (what the hops
///   above consumed before the call arrived) and `<prefix>_server_budget_left_on_arrival_seconds{method}`. Calls
///   by method and status, durations, in-flight handlers and stragglers are exported by every server already.
public final class MetricsInterceptor: ClientInterceptor, ServerInterceptor {
    private let prefix: String
    private let factory: any MetricsFactory
    private let counters = Mutex<[CounterKey: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])

    private struct CounterKey: Hashable {
        let method: String
        let code: StatusCode
    }

    /// Creates the interceptor; nil `factory` uses the process-wide `MetricsSystem`.
    public init(prefix: String = "drpc", factory: (any MetricsFactory)? = nil) {
        self.prefix = prefix
        self.factory = factory ?? MetricsSystem.factory
    }

    /// Counts the outbound call by outcome and times it.
    public func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        let start = ContinuousClock.now
        do {
            let result = try await next(call)
            self.record(call.method, code: .ok, since: start)
            return result
        } catch {
            self.record(call.method, code: Status(of: error, cancelReason: (error as? RPCError)?.cancelReason).code, since: start)
            throw error
        }
    }

    /// Records where the budget went before the call arrived, then runs the handler.
    public func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        if let budget = context.budget {
            self.timer("\(self.prefix)_server_budget_used_upstream_seconds", context.method)
                .recordNanoseconds(budget.consumedBeforeArrival.nanoseconds)
            self.timer("\(self.prefix)_server_budget_left_on_arrival_seconds", context.method)
                .recordNanoseconds(max(0, budget.remainingOnArrival.nanoseconds))
        }
        try await next(context)
    }

    private func record(_ method: String, code: StatusCode, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let key = CounterKey(method: method, code: code)
        let counter = self.counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "\(self.prefix)_client_calls_total",
                dimensions: [("method", method), ("code", "\(code)")],
                factory: self.factory
            )
            counters[key] = counter
            return counter
        }
        counter.increment()
        self.timer("\(self.prefix)_client_call_duration_seconds", method).recordNanoseconds(elapsed.nanoseconds)
    }

    private func timer(_ label: String, _ method: String) -> Timer {
        self.timers.withLock { timers in
            let key = label + "\u{0}" + method
            if let timer = timers[key] { return timer }
            let timer = Timer(label: label, dimensions: [("method", method)], factory: self.factory)
            timers[key] = timer
            return timer
        }
    }
}
