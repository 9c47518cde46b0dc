@testable import DeadlineRPC
import Testing

/// The `RPCError` a call's outcome failed with; nil, with an issue, for a reply or another error. (An `async let`
/// call cannot go into `#expect(throws:)`'s closure, so tests await it into a `Result` and read it here.)
func rpcError<T>(of outcome: Result<T, any Error>, sourceLocation: SourceLocation = #_sourceLocation) -> RPCError? {
    guard case .failure(let error as RPCError) = outcome else {
        Issue.record("The call did not fail with an RPCError: \(outcome)", sourceLocation: sourceLocation)
        return nil
    }
    return error
}
