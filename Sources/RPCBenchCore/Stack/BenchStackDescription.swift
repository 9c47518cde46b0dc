import DeadlineRPC

/// Which RPC stack a run measured and how its servers were set up, as the report states it.
public struct BenchStackDescription: Sendable, Hashable {
    /// The stack's name in tables and plots: `DeadlineRPC`, `grpc-swift-2`.
    public var name: String
    /// Where the servers run handlers (`global`, `event-loop`, or the stack's own wording).
    public var handlerExecutor: String
    /// Streams a client may have open on one connection (0 when the stack does not say).
    public var maxConcurrentStreams: Int

    /// Creates a description.
    public init(name: String, handlerExecutor: String, maxConcurrentStreams: Int) {
        self.name = name
        self.handlerExecutor = handlerExecutor
        self.maxConcurrentStreams = maxConcurrentStreams
    }

    /// DeadlineRPC with the bench servers' options.
    public static func deadlineRPC(_ options: BenchServerOptions) -> BenchStackDescription {
        BenchStackDescription(
            name: options.transportSecurity.usesTLS ? "DeadlineRPC over TLS" : "DeadlineRPC",
            handlerExecutor: "global",  // Every HandlerExecutor case runs handlers off the I/O loops now.
            maxConcurrentStreams: options.maxConcurrentStreams
        )
    }
}
