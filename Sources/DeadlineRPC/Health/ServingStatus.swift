/// The health of a service as the health service reports it: grpc.health.v1's `ServingStatus`, with its numbers.
///
/// A balancer should send calls only to an endpoint whose status is ``serving``; every other value means "not now".
public enum ServingStatus: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The status is not known (also what a value this version does not know decodes as).
    case unknown = 0
    /// The service accepts calls.
    case serving = 1
    /// The service refuses calls, or is about to (the server is shutting down).
    case notServing = 2
    /// No status is registered for the name; only a watch reports it (a check fails `notFound` instead).
    case serviceUnknown = 3

    /// The protobuf enum name, as grpc's tools print it (`SERVING`, `NOT_SERVING`, …).
    public var description: String {
        switch self {
        case .unknown: return "UNKNOWN"
        case .serving: return "SERVING"
        case .notServing: return "NOT_SERVING"
        case .serviceUnknown: return "SERVICE_UNKNOWN"
        }
    }
}
