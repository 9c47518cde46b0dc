import ArgumentParser
import DeadlineRPC

/// drpc's exit codes: one per family of outcomes, so a script can tell "try again later" from "fix the request".
enum DRPCExit {
    /// The call (or every call) ended OK; `drpc health`: the status is SERVING.
    static let ok: Int32 = 0
    /// INTERNAL, UNKNOWN, DATA_LOSS and every status not named below.
    static let other: Int32 = 1
    /// DEADLINE_EXCEEDED or CANCELLED: the budget ran out (or the call was cancelled).
    static let deadline: Int32 = 2
    /// UNAVAILABLE: the server could not be reached or went away.
    static let unavailable: Int32 = 3
    /// INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED: the request names or carries something the server does not take.
    static let request: Int32 = 4
    /// PERMISSION_DENIED or UNAUTHENTICATED.
    static let permission: Int32 = 5
    /// `drpc health`: the call succeeded but the status is not SERVING.
    static let notServing: Int32 = 6
    /// Bad command line or input (unparsable JSON, a method drpc cannot send JSON to); ArgumentParser's own code.
    static let usage: Int32 = ExitCode.validationFailure.rawValue

    /// The exit code for a call that ended with `code`.
    static func code(for status: RPCError.Code) -> Int32 {
        switch status {
        case .ok: return Self.ok
        case .deadlineExceeded, .cancelled: return Self.deadline
        case .unavailable: return Self.unavailable
        case .invalidArgument, .notFound, .unimplemented: return Self.request
        case .permissionDenied, .unauthenticated: return Self.permission
        default: return Self.other
        }
    }

    /// The table `drpc --help` prints (and the README repeats).
    static let table = """
        Exit codes:
          0   OK (drpc health: SERVING)
          1   INTERNAL, UNKNOWN, DATA_LOSS and any other status
          2   DEADLINE_EXCEEDED, CANCELLED
          3   UNAVAILABLE
          4   INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED
          5   PERMISSION_DENIED, UNAUTHENTICATED
          6   drpc health: the status is not SERVING
          64  usage error (bad flags, input that is not JSON, a method without a JSON form)
        """
}
