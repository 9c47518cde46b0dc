extension RPCServer {
    /// Liveness probing of a connection whose client went quiet while calls are open. A client that vanishes —
    /// its host killed, a network partition — sends no FIN, and a server that is not writing to it never learns:
    /// the handlers of its open calls (a stream without a deadline, a health watch) would run for good. So after
    /// ``interval`` with nothing read while a call is open, the server sends a `PING`; nothing read within
    /// ``timeout`` after it closes the connection, and its handlers are cancelled as on connection loss.
    public struct Keepalive: Sendable, Hashable {
        /// How long a connection with open calls may stay quiet before it is pinged.
        public var interval: Duration
        /// How long the answer may take before the client is declared gone.
        public var timeout: Duration

        /// Creates a keepalive policy.
        public init(interval: Duration, timeout: Duration) {
            self.interval = interval
            self.timeout = timeout
        }

        /// Two minutes of quiet, then 20 s for the answer. grpc-go's server waits two hours (its clients may be
        /// phones); DeadlineRPC's are servers, and a vanished caller's handlers stop within about 2.5 minutes.
        public static let `default` = Keepalive(interval: .seconds(120), timeout: .seconds(20))
    }
}
