import GRPCCore

/// `rpcbench.Bench`'s echo and work methods as grpc-swift-2 descriptors, written by hand instead of generated
/// from a .proto file: the messages are rpcbench's own binary encoding, carried as raw gRPC message bytes.
enum GRPCBench {
    /// The service, named as rpcbench names it.
    static let service = ServiceDescriptor(package: "rpcbench", service: "Bench")
    /// Victims: echoes the payload after the requested service time.
    static let echo = MethodDescriptor(service: service, method: "Echo", type: .unary)
    /// Storm: cooperative work at the last hop, forwarded hop by hop before that.
    static let work = MethodDescriptor(service: service, method: "Work", type: .unary)
}
