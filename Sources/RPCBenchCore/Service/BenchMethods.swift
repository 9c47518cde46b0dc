import DeadlineRPC
import NIOCore

/// How a bench handler spends its service time.
public enum WorkKind: UInt8, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// CPU work in slices of the work unit (about 100 µs), checking `Task.isCancelled` and yielding between slices.
    case spin = 0
    /// Waits (a cancellable sleep) without using the CPU; cancellation wakes it at once.
    case park = 1

    /// `spin` or `park`.
    public var description: String {
        switch self {
        case .spin: return "spin"
        case .park: return "park"
        }
    }
}

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

/// The binary encoding of ``BenchRequest``: a 28-byte header, then the payload.
public struct BenchRequestCodec: MessageCodec {
    /// Bytes before the payload.
    public static let headerSize = 8 + 8 + 8 + 1 + 1 + 1 + 1

    /// Creates the codec.
    public init() {}

    /// Appends the header and the payload.
    public func encode(_ message: BenchRequest, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: Self.headerSize + message.payload.readableBytes)
        buffer.writeInteger(message.tag)
        buffer.writeInteger(message.workNanoseconds)
        buffer.writeInteger(message.workUnitNanoseconds)
        buffer.writeInteger(message.workKind.rawValue)
        buffer.writeInteger(message.hop)
        buffer.writeInteger(message.hops)
        buffer.writeInteger(message.propagation ? UInt8(1) : 0)
        buffer.writeImmutableBuffer(message.payload)
    }

    /// Reads a request; the payload is a slice of `buffer` (no copy).
    public func decode(_ buffer: ByteBuffer) throws -> BenchRequest {
        var buffer = buffer
        guard
            let tag = buffer.readInteger(as: UInt64.self),
            let work = buffer.readInteger(as: Int64.self),
            let unit = buffer.readInteger(as: Int64.self),
            let kindByte = buffer.readInteger(as: UInt8.self),
            let kind = WorkKind(rawValue: kindByte),
            let hop = buffer.readInteger(as: UInt8.self),
            let hops = buffer.readInteger(as: UInt8.self),
            let propagation = buffer.readInteger(as: UInt8.self)
        else {
            throw RPCError(code: .invalidArgument, message: "The bench request is malformed.")
        }
        return BenchRequest(
            tag: tag,
            workNanoseconds: work,
            workKind: kind,
            workUnitNanoseconds: unit,
            hop: hop,
            hops: hops,
            propagation: propagation != 0,
            payload: buffer
        )
    }
}

/// What one handler did, by the shared clock: recorded for every tracked (tag ≠ 0) call at every hop.
public struct HandlerRecord: Sendable, Hashable, Codable {
    /// The call's tag.
    public var tag: UInt64
    /// The hop that ran the handler (1 = the server the client called).
    public var hop: Int
    /// When the handler started.
    public var startedAt: Int64
    /// When the handler's task was cancelled (its cancellation handler ran); 0 if it never was.
    public var cancelledAt: Int64
    /// When the handler's own code noticed (work loop or forwarded call returned); 0 if it never did.
    public var observedAt: Int64
    /// When the handler returned.
    public var endedAt: Int64
    /// Whether it did all its work (or, when forwarding, got the next hop's answer).
    public var completed: Bool

    /// Creates a record.
    public init(
        tag: UInt64,
        hop: Int,
        startedAt: Int64,
        cancelledAt: Int64,
        observedAt: Int64,
        endedAt: Int64,
        completed: Bool
    ) {
        self.tag = tag
        self.hop = hop
        self.startedAt = startedAt
        self.cancelledAt = cancelledAt
        self.observedAt = observedAt
        self.endedAt = endedAt
        self.completed = completed
    }
}

/// The request of the stats method.
public struct StatsRequest: Sendable, Codable, Hashable {
    /// Whether to return the allocator's free memory to the system before reading RSS (for before/after
    /// readings; too slow for polling).
    public var trimMemory: Bool

    /// Creates the request.
    public init(trimMemory: Bool = false) {
        self.trimMemory = trimMemory
    }
}

/// One server's live counters (``ServerStats``), as the stats method reports them.
public struct HopSnapshot: Sendable, Codable, Hashable {
    /// The hop (1 = the server clients call).
    public var hop: Int
    /// The port it listens on.
    public var port: Int
    /// Calls accepted.
    public var callsStarted: Int
    /// Calls ended.
    public var callsFinished: Int
    /// Handler tasks running now (the stats call's own handler excluded).
    public var handlersInFlight: Int
    /// Handlers running now past the straggler grace period.
    public var stragglersNow: Int
    /// Handlers that ever became stragglers.
    public var stragglersTotal: Int
    /// Calls answered without running the handler (budget spent).
    public var shedCalls: Int
    /// Calls refused at the stream limit.
    public var refusedCalls: Int
    /// Connections open now.
    public var connections: Int

    /// Creates a snapshot from counters a server of another stack keeps itself (Benchmarks/PeerStorm); what that
    /// stack does not have (stragglers, shed and refused calls) is 0.
    public init(
        hop: Int,
        port: Int,
        callsStarted: Int,
        callsFinished: Int,
        handlersInFlight: Int,
        stragglersNow: Int = 0,
        stragglersTotal: Int = 0,
        shedCalls: Int = 0,
        refusedCalls: Int = 0,
        connections: Int = 0
    ) {
        self.hop = hop
        self.port = port
        self.callsStarted = callsStarted
        self.callsFinished = callsFinished
        self.handlersInFlight = handlersInFlight
        self.stragglersNow = stragglersNow
        self.stragglersTotal = stragglersTotal
        self.shedCalls = shedCalls
        self.refusedCalls = refusedCalls
        self.connections = connections
    }

    /// Copies a server's stats.
    public init(hop: Int, port: Int, stats: ServerStats, excludingHandlers: Int = 0) {
        self.hop = hop
        self.port = port
        self.callsStarted = stats.callsStarted
        self.callsFinished = stats.callsFinished
        self.handlersInFlight = max(0, stats.handlersInFlight - excludingHandlers)
        self.stragglersNow = stats.stragglersNow
        self.stragglersTotal = stats.stragglersTotal
        self.shedCalls = stats.shedCalls
        self.refusedCalls = stats.refusedCalls
        self.connections = stats.connections
    }
}

/// Every hop's counters and the serving process's memory, at one instant.
public struct TopologySnapshot: Sendable, Codable, Hashable {
    /// One entry per hop, first hop first.
    public var hops: [HopSnapshot]
    /// The serving process's resident set size, in bytes.
    public var rssBytes: Int
    /// The serving process's peak resident set size, in bytes.
    public var peakRSSBytes: Int
    /// The serving process's ``BenchClock`` reading when the snapshot was taken.
    public var clockNanoseconds: Int64

    /// Creates a snapshot.
    public init(hops: [HopSnapshot], rssBytes: Int, peakRSSBytes: Int, clockNanoseconds: Int64) {
        self.hops = hops
        self.rssBytes = rssBytes
        self.peakRSSBytes = peakRSSBytes
        self.clockNanoseconds = clockNanoseconds
    }

    /// Handler tasks running at every hop together.
    public var handlersInFlight: Int { self.hops.reduce(0) { $0 + $1.handlersInFlight } }
}

/// The request of the records method (empty).
public struct RecordsRequest: Sendable, Codable, Hashable {
    /// Creates the request.
    public init() {}
}

/// A batch of handler records, as the records method streams them.
public struct RecordBatch: Sendable, Codable, Hashable {
    /// The records.
    public var records: [HandlerRecord]

    /// Creates a batch.
    public init(records: [HandlerRecord]) {
        self.records = records
    }
}

/// The bench service's methods, shared by the client side and `rpcbench serve`.
public enum BenchMethods {
    /// The victims' call: echoes the payload after the requested service time.
    public static let echo = Method<BenchRequest, ByteBuffer>(
        "rpcbench.Bench/Echo",
        kind: .unary,
        requestCodec: BenchRequestCodec(),
        responseCodec: RawBytesCodec()
    )
    /// The storm's call: cooperative work at the last hop, forwarded hop by hop before that; every hop records a
    /// ``HandlerRecord``.
    public static let work = Method<BenchRequest, ByteBuffer>(
        "rpcbench.Bench/Work",
        kind: .unary,
        requestCodec: BenchRequestCodec(),
        responseCodec: RawBytesCodec()
    )
    /// Every hop's ``ServerStats`` and the serving process's memory.
    public static let stats = Method<StatsRequest, TopologySnapshot>.unary("rpcbench.Bench/Stats")
    /// Streams and forgets the handler records of every hop (for a `--target` run).
    public static let records = Method<RecordsRequest, RecordBatch>.serverStreaming("rpcbench.Bench/Records")
}
