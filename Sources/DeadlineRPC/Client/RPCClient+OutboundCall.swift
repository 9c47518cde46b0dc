import Instrumentation
import Logging
import NIOCore
import NIOPosix
import Wire

// From a call's options and the call being served to the outbound call the interceptors see: its deadline, its
// propagated context, strict mode.
extension RPCClient {
    /// Works out the call's deadline from its options, its method and the call being served, then runs the
    /// interceptors around `attempt` (which builds and runs the call itself).
    ///
    /// The clock is read once here, from the client's event loop (the clock its deadline timer runs on, so a test
    /// on an embedded loop drives both), and that instant is carried to the attempt. Only when interceptors ran is
    /// it read again for the attempt: they may have waited (a retry's backoff), and the budget checks must see it.
    func intercepting<Request, Response, Result>(
        _ method: Method<Request, Response>,
        _ options: CallOptions,
        _ attempt: (OutboundCall, CallContext?, Deadline) async throws -> Result
    ) async throws -> Result {
        // The synchronous part runs in `outboundCall`, off this async frame: the frame stays allocated in the
        // caller's task for as long as the call is in flight (it took 1.2 KiB with that part inlined).
        let (outbound, parent, now) = try self.outboundCall(method, options)
        if self.configuration.interceptors.isEmpty {
            return try await attempt(outbound, parent, now)
        }
        return try await self.intercepted(outbound, parent, attempt)
    }

    /// Runs `attempt` inside the configured interceptors (apart from ``intercepting(_:_:_:)``, so a call without
    /// interceptors does not carry this path's closure in its frame).
    func intercepted<Result>(
        _ outbound: OutboundCall,
        _ parent: CallContext?,
        _ attempt: (OutboundCall, CallContext?, Deadline) async throws -> Result
    ) async throws -> Result {
        try await self.configuration.interceptors.intercept(outbound) { outbound in try await attempt(outbound, parent, self.now()) }
    }

    /// The call as the interceptors first see it, the context of the call being served and the call's instant.
    @inline(never)
    func outboundCall<Request, Response>(
        _ method: Method<Request, Response>,
        _ options: CallOptions
    ) throws -> (OutboundCall, CallContext?, Deadline) {
        let parent = self.configuration.propagation == .enabled ? CallContext.current : nil
        if Task.isCancelled && self.configuration.propagation == .enabled {
            if let reason = parent?.cancelReason {
                // The call being served ended (most often: its deadline passed); say so, not "the caller cancelled".
                throw RPCError.cancelled(reason, reason.notSentMessage(.servedCall))
            }
            throw RPCError.cancelled(.cancelled, "The calling task was already cancelled; the call was not sent.")
        }
        let now = self.now()
        let inherited = parent?.deadline
        let requested = Deadline.earliest(options.deadline, options.timeout.map { now + $0 })
        let deadline = Deadline.earliest(Deadline.earliest(inherited, requested), method.defaultTimeout.map { now + $0 })
        if let inherited, let requested, requested > inherited {
            // An option asked for more time than the call being served has left: clamped, never obeyed.
            self.stats.recordDeadlineClamped(method: method.name, requested: requested - now, inherited: inherited - now)
        }
        let outbound = OutboundCall(
            method: method.name,
            kind: method.kind,
            isIdempotent: method.isIdempotent,
            metadata: options.metadata,
            compression: options.compression,
            deadline: deadline,
            inheritedDeadline: deadline,
            createdAt: now,
            // Only a retry or a hedge makes a second attempt: no history (and no allocation) without one.
            history: AttemptHistory.shared ?? (self.configuration.interceptors.isEmpty ? nil : AttemptHistory())
        )
        return (outbound, parent, now)
    }

    /// Strict mode: a call needs a deadline that bounds something. One beyond the configured maximum (a forgotten
    /// `.distantFuture`, a timeout in years) is as unbounded as none, so it is refused the same way.
    func enforceStrictMode(method: String, deadline: Deadline?, now: Deadline) throws {
        let maximum = self.configuration.strictModeMaximumBudget
        guard let deadline else {
            self.stats.recordRefusedWithoutDeadline(method: method)
            throw RPCError(
                code: .failedPrecondition,
                message: "Strict mode refuses calls without a deadline: pass CallOptions(timeout:), give '\(method)' a defaultTimeout, or call it from a handler that has a deadline."
            )
        }
        guard deadline == .distantFuture || deadline - now > maximum else { return }
        self.stats.recordRefusedWithoutDeadline(method: method)
        // Rounded to the millisecond: the microseconds spent since the options were made are noise in the message.
        let budget = deadline == .distantFuture
            ? "Deadline.distantFuture (no deadline at all)"
            : "a budget of \(Duration.milliseconds((deadline - now + .microseconds(500)).nanoseconds / 1_000_000))"
        throw RPCError(
            code: .failedPrecondition,
            message: "Strict mode refuses '\(method)' with \(budget), above the maximum of \(maximum): pass a shorter CallOptions(timeout:) or deadline (or a shorter defaultTimeout), or raise RPCClient.Configuration.strictModeMaximumBudget if calls this long are intended."
        )
    }
}
