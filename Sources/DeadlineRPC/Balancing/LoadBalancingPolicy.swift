/// How a client with several endpoints chooses the one a call goes to. Only endpoints with a ready connection are
/// ever chosen; a call made while none is ready waits for one within its own deadline.
public enum LoadBalancingPolicy: Sendable, Hashable {
    /// Least loaded of two chosen at random ("power of two choices", Finagle's default): the one with fewer calls
    /// in flight from this client. Connects to every endpoint. The default.
    case leastLoaded
    /// Each endpoint in turn. Connects to every endpoint.
    case roundRobin
    /// The first endpoint in the resolved order that connects; the next only when it fails. One connection.
    case pickFirst
}
