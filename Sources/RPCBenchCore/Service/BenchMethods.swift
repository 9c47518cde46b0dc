import DeadlineRPC
import NIOCore

/// The bench service's methods, shared by the client side and `rpcbench serve`.
public enum BenchMethods {
    /// The victims' call: echoes the payload after the requested service time. Idempotent, so a client with a
    /// `RetryInterceptor` sends a victim that failed `unavailable` again (to another replica).
    public static let echo = Method<BenchRequest, ByteBuffer>(
        "rpcbench.Bench/Echo",
        kind: .unary,
        requestCodec: BenchRequestCodec(),
        responseCodec: RawBytesCodec(),
        isIdempotent: true
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
