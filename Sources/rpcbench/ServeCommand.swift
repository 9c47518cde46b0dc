#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import RPCBenchCore

extension RPCBench {
    /// `rpcbench serve`: the bench service on a port, for `rpcbench run --target host:port` in another process.
    struct Serve: AsyncParsableCommand {
        /// The subcommand's abstract.
        static let configuration = CommandConfiguration(
            abstract: "Serve the bench service (a chain of --chain servers in this process) until interrupted."
        )

        /// Address to bind.
        @Option(help: "Address to bind.")
        var host = "127.0.0.1"

        /// Port of the first hop (the others pick free ports).
        @Option(help: "Port of the first hop (the others pick free ports).")
        var port = 50_051

        /// Servers in the chain, each calling the next.
        @Option(help: "Servers in the chain, each calling the next.")
        var chain = 3

        /// Where handler tasks run (only global: the runtime never runs them on its I/O loops).
        @Option(help: "Where handler tasks run: global (the only choice left; handlers never run on I/O loops).")
        var handlerExecutor: HandlerExecutorArgument = .global

        /// Streams a client may have open on one connection.
        @Option(help: "Streams a client may have open on one connection.")
        var maxStreams = 4_096

        /// Exit as soon as standard input reaches its end: `rpcbench --replicas` starts its replicas so, and the
        /// kernel closes their input when it dies, however it dies — so a replica never outlives the run.
        @Flag(help: "Exit when standard input is closed (rpcbench --replicas starts its replicas so: they never outlive it).")
        var exitWithStdin = false

        /// Rejects impossible flag values before anything starts.
        func validate() throws {
            guard (1...255).contains(self.chain) else { throw ValidationError("--chain must be 1...255") }
            guard self.port >= 0 && self.port < 65_536 else { throw ValidationError("--port must be 0...65535") }
        }

        /// Runs the subcommand.
        func run() async throws {
            if self.exitWithStdin {
                // A thread of its own: the read blocks until the parent's end of the pipe is closed.
                Thread.detachNewThread {
                    var byte: UInt8 = 0
                    while read(STDIN_FILENO, &byte, 1) > 0 {}
                    _exit(0)
                }
            }
            var options = BenchServerOptions()
            options.handlerExecutor = self.handlerExecutor.executor
            options.maxConcurrentStreams = self.maxStreams
            let chain = self.chain
            let host = self.host
            try await withBenchTopology(hops: chain, host: host, port: self.port, options: options) { registry in
                let ports = registry.snapshot().hops.map { String($0.port) }.joined(separator: " → ")
                let line = "rpcbench serve: listening on \(host):\(registry.entryPort), \(chain)-hop chain (ports \(ports)); Ctrl-C stops it\n"
                FileHandle.standardOutput.write(Data(line.utf8))
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(3_600))
                }
            }
        }
    }
}
