/// How a side probes a quiet connection (`docs/PROTOCOL.md` §13.5). After ``interval`` with nothing read from the
/// peer it sends a `PING`; when nothing comes back within ``timeout`` it closes the connection, and the calls on it
/// end as on connection loss. A peer that vanishes without closing (its host killed, a partition) sends no FIN, and a
/// side that is not writing to it would otherwise never learn. A client pings calls open or not (``client``); a
/// server only while calls are open (``server``), the idle timeout looking after the rest.
public struct Keepalive: Sendable, Hashable {
    /// How long a connection may stay quiet before it is pinged.
    public var interval: Duration
    /// How long the answer may take before the peer is declared gone.
    public var timeout: Duration

    /// Creates a keepalive policy.
    public init(interval: Duration, timeout: Duration) {
        self.interval = interval
        self.timeout = timeout
    }

    /// A client's default: 20 s of quiet, then 10 s for the answer, so a dead replica leaves the picker within half a
    /// minute. A server allows pings 5 s apart (`RPCServer.ConnectionLimits.pingMinimumInterval`).
    public static let client = Keepalive(interval: .seconds(20), timeout: .seconds(10))

    /// A server's default: two minutes of quiet, then 20 s for the answer. grpc-go's server waits two hours (its
    /// clients may be phones); DeadlineRPC's are servers, and a vanished caller's handlers stop within 2.5 minutes.
    public static let server = Keepalive(interval: .seconds(120), timeout: .seconds(20))
}
