import DeadlineRPC

/// The innermost interceptor of every in-process server: records what the handler is given and how it ends.
struct CallRecorder: ServerInterceptor {
    let server: String
    let log: CallLog

    func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        let now = Deadline.now()
        let index = self.log.record(
            HandledCall(
                server: self.server,
                method: context.method,
                callID: context.callID,
                deadline: context.deadline,
                remainingBudget: context.deadline.map { $0 - now },
                metadata: context.metadata,
                hopCount: context.hopCount,
                originalBudget: context.originalBudget,
                startedAt: now,
                end: nil
            )
        )
        do {
            try await next(context)
            self.log.record(self.end(context, error: nil), at: index)
        } catch {
            self.log.record(self.end(context, error: error), at: index)
            throw error
        }
    }

    private func end(_ context: CallContext, error: (any Error)?) -> HandledCall.End {
        let rpcError = error as? RPCError
        return HandledCall.End(
            at: Deadline.now(),
            cancelReason: context.cancelReason,
            taskWasCancelled: Task.isCancelled,
            error: rpcError.map { "\($0.code): \($0.message)" } ?? error.map { "\($0)" },
            errorCode: rpcError?.code
        )
    }
}
