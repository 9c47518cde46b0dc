import NIOCore

/// The request of every bench call: what to do, how long, how far down the chain, and a tag that joins the
/// handler's timestamps with the client's.
public struct BenchRequest: Sendable, Hashable {
    /// Identifies one storm call across client and every hop; 0 for untracked calls (victims).
    public var tag: UInt64
    /// The service time the handler spends at the last hop, in nanoseconds.
    public var workNanoseconds: Int64
    /// How the handler spends it.
    public var workKind: WorkKind
    /// The size of one cooperative work slice, in nanoseconds (checks for cancellation between slices).
    public var workUnitNanoseconds: Int64
    /// This hop's position in the chain, from 1.
    public var hop: UInt8
    /// The chain's length: a handler with `hop < hops` forwards the call to the next server.
    public var hops: UInt8
    /// Whether the hop clients forward deadline and cancellation (`false` selects the clients configured with
    /// `propagation = .disabledToReproduceLeaks`).
    public var propagation: Bool
    /// Bytes echoed back by the echo method.
    public var payload: ByteBuffer

    /// Creates a request.
    public init(
        tag: UInt64 = 0,
        workNanoseconds: Int64 = 0,
        workKind: WorkKind = .spin,
        workUnitNanoseconds: Int64 = 100_000,
        hop: UInt8 = 1,
        hops: UInt8 = 1,
        propagation: Bool = true,
        payload: ByteBuffer = ByteBuffer()
    ) {
        self.tag = tag
        self.workNanoseconds = workNanoseconds
        self.workKind = workKind
        self.workUnitNanoseconds = workUnitNanoseconds
        self.hop = hop
        self.hops = hops
        self.propagation = propagation
        self.payload = payload
    }

    /// The same request as the next hop receives it.
    public var forwarded: BenchRequest {
        var next = self
        next.hop &+= 1
        return next
    }
}
