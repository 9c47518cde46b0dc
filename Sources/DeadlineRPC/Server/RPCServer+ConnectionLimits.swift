extension RPCServer {
    /// The per-connection abuse limits (`docs/PROTOCOL.md` §13.5, `docs/LIMITS.md`): each bounds what a hostile
    /// or broken peer can cost, and is chosen so that heavy legitimate traffic (including storms of cancels)
    /// never trips it.
    public struct ConnectionLimits: Sendable, Hashable {
        /// A connection with no open call and no running handler for this long is closed with
        /// `GOAWAY(TIMEOUT)`; nil keeps idle connections forever.
        public var idleTimeout: Duration? = .seconds(300)
        /// Glitches (unknown frames, undefined flags, empty frames, stream errors caused by the peer's bytes)
        /// tolerated in a burst; one more than the bucket holds ends the connection with
        /// `GOAWAY(ENHANCE_YOUR_CALM)`.
        public var glitchBudget: Int = 1000
        /// Glitch tokens refilled per second.
        public var glitchRefillPerSecond: Int = 100
        /// Pings closer together than this are strikes.
        public var pingMinimumInterval: Duration = .seconds(5)
        /// Early pings in a row forgiven; the next one ends the connection with `GOAWAY(TOO_MANY_PINGS)`.
        public var pingStrikesTolerated: Int = 2
        /// Control frames (pongs, credits, cancels) that may be queued while the peer does not read; one more
        /// ends the connection with `GOAWAY(ENHANCE_YOUR_CALM)`.
        public var maxQueuedControlFrames: Int = 1000
        /// An optional rate budget on `CANCEL`s for open calls: bucket size and refill per second. Off by
        /// default: rapid reset is bounded by work (a cancelled handler keeps its stream slot until it returns),
        /// and cancelling is everyday traffic that must never cost a connection.
        public var resetBudget: ResetBudget? = nil

        /// The defaults.
        public init() {}
    }

    /// A rate budget on cancels of open calls (a token bucket).
    public struct ResetBudget: Sendable, Hashable {
        /// Cancels tolerated in a burst.
        public var burst: Int
        /// Tokens refilled per second.
        public var refillPerSecond: Int

        /// Creates a budget.
        public init(burst: Int, refillPerSecond: Int) {
            self.burst = burst
            self.refillPerSecond = refillPerSecond
        }
    }
}
