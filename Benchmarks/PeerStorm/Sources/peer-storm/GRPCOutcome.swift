import GRPCCore
import RPCBenchCore

/// Classifies how a grpc-swift-2 call ended, with the same names rpcbench uses (`cancelled`, `deadlineExceeded`,
/// `unavailable`, …).
enum GRPCOutcome {
    /// Runs `call`: `ok`, the RPC error's code, `cancelled` for a `CancellationError`, or `other`.
    static func of(_ call: () async throws -> Void) async -> CallOutcome {
        do {
            try await call()
            return .ok
        } catch let error as RPCError {
            return .failed("\(error.code)")
        } catch is CancellationError {
            return .failed("cancelled")
        } catch {
            return .failed("other")
        }
    }
}
