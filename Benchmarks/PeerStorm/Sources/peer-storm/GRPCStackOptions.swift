import GRPCNIOTransportHTTP2Posix
import NIOCore
import RPCBenchCore

/// How the grpc-swift-2 servers and clients are set up: its library defaults, except where a flag says otherwise
/// or the bench needs the same setting as rpcbench's servers.
struct GRPCStackOptions: Sendable, Hashable {
    /// How handlers learn their RPC was cancelled.
    var cancellation: HandlerCancellation = .task
    /// The HTTP/2 transport's flush coalescing, on both sides (its default: on).
    var flushCoalescing = true
    /// Streams a client may open on one connection, as rpcbench's servers allow (4,096), so a burst of a thousand
    /// calls on the shared connection is served rather than queued.
    var maxConcurrentStreams = 4_096

    /// The server transport's configuration.
    var serverConfig: HTTP2ServerTransport.Posix.Config {
        .defaults {
            $0.connection.flushCoalescing = self.flushCoalescing ? .defaults : nil
            $0.http2.maxConcurrentStreams = self.maxConcurrentStreams
        }
    }

    /// The client transport's configuration; `watch`, when given, sees every TCP connection the client opens.
    func clientConfig(watch: ConnectionWatch? = nil) -> HTTP2ClientTransport.Posix.Config {
        .defaults {
            $0.connection.flushCoalescing = self.flushCoalescing ? .defaults : nil
            if let watch {
                $0.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
                    watch.connected(channel)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
            }
        }
    }

    /// The report's description of the servers.
    var stackDescription: BenchStackDescription {
        BenchStackDescription(
            name: self.cancellation == .task ? "grpc-swift-2" : "grpc-swift-2 (rpc-handle)",
            handlerExecutor: "grpc-swift-2's default",
            maxConcurrentStreams: self.maxConcurrentStreams
        )
    }
}
