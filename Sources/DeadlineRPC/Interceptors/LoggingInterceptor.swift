import Logging

/// Logs one line per call when it ends — method, status, duration and, on the server, where the chain's budget
/// went (``BudgetAttribution``) — on both clients and servers.
///
/// Successes log at `successLevel` (default `.debug`, so a busy service is not flooded), failures at `failureLevel`.
public struct LoggingInterceptor: ClientInterceptor, ServerInterceptor {
    /// Where client calls are logged (servers log to the call's own ``CallContext/logger``).
    public var logger: Logger
    /// The level of calls that succeed.
    public var successLevel: Logger.Level
    /// The level of calls that fail.
    public var failureLevel: Logger.Level

    /// Creates a logging interceptor.
    public init(
        logger: Logger = Logger(label: "DeadlineRPC.calls"),
        successLevel: Logger.Level = .debug,
        failureLevel: Logger.Level = .info
    ) {
        self.logger = logger
        self.successLevel = successLevel
        self.failureLevel = failureLevel
    }

    /// Logs the outcome of an outbound call.
    public func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        let start = ContinuousClock.now
        var metadata: Logger.Metadata = [
            "drpc.method": "\(call.method)",
            "drpc.attempt": "\(call.attempt)",
        ]
        if let left = call.timeRemaining { metadata["drpc.budget_ms"] = "\(BudgetAttribution.format(left))" }
        do {
            let result = try await next(call)
            metadata["drpc.status"] = "ok"
            metadata["drpc.duration"] = "\(BudgetAttribution.format(ContinuousClock.now - start))"
            self.logger.log(level: self.successLevel, "Call succeeded", metadata: metadata)
            return result
        } catch {
            let status = Status(of: error, cancelReason: (error as? RPCError)?.cancelReason)
            metadata["drpc.status"] = "\(status.code)"
            metadata["drpc.message"] = "\(status.message)"
            metadata["drpc.duration"] = "\(BudgetAttribution.format(ContinuousClock.now - start))"
            self.logger.log(level: self.failureLevel, "Call failed", metadata: metadata)
            throw error
        }
    }

    /// Logs the outcome of a handled call with its budget attribution.
    public func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        let start = ContinuousClock.now
        var metadata: Logger.Metadata = ["drpc.hop": "\(context.hopCount)"]
        func addBudget() {
            guard let budget = context.budget else { return }
            metadata["drpc.budget_original"] = "\(BudgetAttribution.format(budget.originalBudget))"
            metadata["drpc.budget_used_upstream"] = "\(BudgetAttribution.format(budget.consumedBeforeArrival))"
            metadata["drpc.budget_left_on_arrival"] = "\(BudgetAttribution.format(budget.remainingOnArrival))"
            metadata["drpc.budget_used_here"] = "\(BudgetAttribution.format(budget.usedHere))"
        }
        do {
            try await next(context)
            metadata["drpc.status"] = "ok"
            metadata["drpc.duration"] = "\(BudgetAttribution.format(ContinuousClock.now - start))"
            addBudget()
            context.logger.log(level: self.successLevel, "Handled call", metadata: metadata)
        } catch {
            let status = Status(of: error, cancelReason: context.cancelReason)
            metadata["drpc.status"] = "\(status.code)"
            metadata["drpc.message"] = "\(status.message)"
            metadata["drpc.duration"] = "\(BudgetAttribution.format(ContinuousClock.now - start))"
            addBudget()
            context.logger.log(level: self.failureLevel, "Handled call failed", metadata: metadata)
            throw error
        }
    }
}
