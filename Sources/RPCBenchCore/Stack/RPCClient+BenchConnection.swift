import DeadlineRPC

/// DeadlineRPC's client is the bench's connection as it is: `close()` already drops the TCP connection without
/// cancelling calls one by one.
extension RPCClient: BenchConnection {
    /// Calls `rpcbench.Bench/Echo` with `CallOptions(timeout:)`.
    public func echo(_ request: BenchRequest, timeout: Duration) async -> CallOutcome {
        await CallOutcome.of {
            _ = try await self.unary(BenchMethods.echo, request, options: CallOptions(timeout: timeout))
        }
    }

    /// Calls `rpcbench.Bench/Work`, with `CallOptions(timeout:)` when a timeout is given.
    public func work(_ request: BenchRequest, timeout: Duration?) async -> CallOutcome {
        await CallOutcome.of {
            if let timeout {
                _ = try await self.unary(BenchMethods.work, request, options: CallOptions(timeout: timeout))
            } else {
                _ = try await self.unary(BenchMethods.work, request)
            }
        }
    }
}
