import DeadlineRPC

/// How a call ended, as the bench counts it.
public enum CallOutcome: Sendable, Hashable {
    /// It succeeded.
    case ok
    /// It failed with this status code (its name, e.g. `cancelled`), or `other` for a non-RPC error.
    case failed(String)

    /// Runs `call` and classifies how it ended.
    public static func of(_ call: () async throws -> Void) async -> CallOutcome {
        do {
            try await call()
            return .ok
        } catch let error as RPCError {
            return .failed("\(error.code)")
        } catch {
            return .failed("other")
        }
    }

    /// `ok` or the code's name.
    public var code: String {
        switch self {
        case .ok: return "ok"
        case .failed(let code): return code
        }
    }
}
