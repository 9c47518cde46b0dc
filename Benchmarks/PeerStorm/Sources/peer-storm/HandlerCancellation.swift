import ArgumentParser

/// How the grpc-swift-2 bench handlers learn that their RPC was cancelled.
enum HandlerCancellation: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// As a typical user writes a handler (and as rpcbench's handlers are written): the work checks
    /// `Task.isCancelled`. grpc-swift-2 signals a cancelled RPC through `ServerContext.cancellation`, not by
    /// cancelling the handler's task, so this work runs to its end.
    case task
    /// As grpc-swift-2's documentation advises: a child task waits on `context.cancellation.cancelled` and, when
    /// the RPC is cancelled (client reset, deadline), cancels the work's task, so the same cooperative work stops.
    case rpcHandle = "rpc-handle"
}
