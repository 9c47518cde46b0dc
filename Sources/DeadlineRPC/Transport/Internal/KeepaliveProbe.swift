/// A side's keepalive decisions for one connection (``Keepalive``), apart from the timers and the channel that carry
/// them out: both connection handlers drive one, on their event loop.
struct KeepaliveProbe {
    /// Bytes arrived from the peer since the last check.
    private(set) var heard = false
    /// A keepalive `PING` waits for its acknowledgement.
    private(set) var pingOutstanding = false

    /// What an elapsed interval or answer time calls for.
    enum Next: Equatable {
        /// Check again after another interval.
        case waitAnotherInterval
        /// Send a `PING` and wait the keepalive's timeout for an answer.
        case ping
        /// Nothing came back: the peer is gone; close the connection.
        case closeDead
    }

    /// Bytes arrived from the peer (on every read: one store).
    mutating func heardFromPeer() {
        self.heard = true
    }

    /// An interval passed: a connection quiet for all of it is pinged, when it is `worthProbing` (a server probes
    /// only connections with calls open; a client, any).
    mutating func intervalPassed(worthProbing: Bool) -> Next {
        let quiet = !self.heard
        self.heard = false
        guard quiet, worthProbing else { return .waitAnotherInterval }
        self.pingOutstanding = true
        return .ping
    }

    /// The answer's time passed: any byte since the ping counts as an answer.
    mutating func timeoutPassed() -> Next {
        self.pingOutstanding = false
        guard self.heard else { return .closeDead }
        self.heard = false
        return .waitAnotherInterval
    }

    /// A `PING` acknowledgement arrived: true when it answered the keepalive's ping, whose wait then ends and the
    /// next interval starts now.
    mutating func acknowledged() -> Bool {
        guard self.pingOutstanding else { return false }
        self.pingOutstanding = false
        self.heard = false
        return true
    }
}
