import ArgumentParser
import DeadlineRPC
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One hop of a call chain in its own process, for the multi-process cascade tests: `chain.Hop/Call` calls the next
/// hop (or, at the last hop, works cooperatively until cancelled); `chain.Hop/Stats` reports what its handlers saw,
/// so a test in another process can check that every hop stopped, and why.
struct ChainHop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chain-hop",
        abstract: "Serve one hop of a call chain (chain.Hop/Call, chain.Hop/Stats) on 127.0.0.1 or --host."
    )

    @Option(help: "Address to listen on (a test bed host's address, say).")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Address of the next hop.")
    var nextHost: String = "127.0.0.1"

    @Option(help: "Port of the next hop; without it this is the last hop.")
    var next: Int?

    @Flag(help: "Print `handler started` and `handler returned cause=CAUSE own=BOOL` for each chain.Hop/Call, so a test in another process can await them.")
    var printHandlerEvents = false

    @Option(help: "Timeout (ms) this hop puts on its outbound call: a budget that runs out halfway down the chain.")
    var outboundTimeoutMs: Int?

    func run() async throws {
        let stats = ChainHopStats()
        let downstream = self.next.map { [nextHost] in RPCClient(host: nextHost, port: $0) }
        let printEvents = self.printHandlerEvents
        let outboundTimeout = self.outboundTimeoutMs.map { Duration.milliseconds($0) }
        var router = Router()
        router.unary(ChainHopMethods.call) { request, context in
            stats.started()
            if printEvents { Self.report("handler started") }
            // The cause is read, never inferred from the clock: the call's own cancel cause (the caller's CANCEL or
            // this hop's deadline timer), else the cause the outbound call failed with — at the instant this
            // call's deadline passes, the outbound call that inherited it can fail before the server's timer
            // records the cause here. A failure with no cause (say `unavailable`) is reported as none.
            var outboundCause: CancelReason? = nil
            defer {
                let own = context.cancelReason  // Read once: the cause can arrive between two reads.
                stats.returned(own ?? outboundCause, ownCallCancelled: own != nil)
                if printEvents {
                    Self.report("handler returned cause=\((own ?? outboundCause).map { "\($0)" } ?? "none") own=\(own != nil)")
                }
            }
            if let downstream {
                do {
                    return try await downstream.unary(ChainHopMethods.call, request, options: CallOptions(timeout: outboundTimeout))
                } catch let error as RPCError {
                    outboundCause = error.cancelReason
                    throw error
                }
            }
            // The last hop: cooperative work in 1 ms slices until the call is cancelled or expires.
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            return request
        }
        router.unary(ChainHopMethods.stats) { _, _ in stats.snapshot }
        let server = RPCServer(host: self.host, port: self.port, router: router)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "demo-services.chain-hop")
            )
        )
        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            let address = try await server.listeningAddress
            print("listening on \(address.port ?? 0)")
            fflush(nil)  // The parent reads this line through a pipe.
        }
        await downstream?.close()
    }

    /// One line on standard output, flushed at once (the parent reads it through a pipe).
    private static func report(_ line: String) {
        print(line)
        fflush(nil)
    }
}

/// The chain hop's methods.
enum ChainHopMethods {
    /// Calls the next hop, or waits for cancellation at the last one.
    static let call = Method<EchoMessage, EchoMessage>.unary("chain.Hop/Call")
    /// What this hop's handlers saw.
    static let stats = Method<EchoMessage, ChainHopReport>.unary("chain.Hop/Stats")
}

/// What one hop's `chain.Hop/Call` handlers saw.
struct ChainHopReport: Codable, Sendable {
    /// Handlers started.
    var started: Int
    /// Handlers still running.
    var running: Int
    /// Handlers that returned, by the cause that ended them: their call's own cancel cause, else the cancel cause
    /// of the outbound call whose failure they returned ("none" when there was neither).
    var returnedByCause: [String: Int]
    /// Handlers whose own call was cancelled (by the caller's CANCEL or this hop's deadline) before they returned;
    /// the rest returned a failure that came back from below.
    var ownCallCancelled: Int
}

/// Counters behind ``ChainHopReport``.
final class ChainHopStats: Sendable {
    private let state = Mutex(ChainHopReport(started: 0, running: 0, returnedByCause: [:], ownCallCancelled: 0))

    func started() {
        self.state.withLock { $0.started += 1; $0.running += 1 }
    }

    func returned(_ cause: CancelReason?, ownCallCancelled: Bool) {
        self.state.withLock { state in
            state.running -= 1
            if ownCallCancelled { state.ownCallCancelled += 1 }
            state.returnedByCause[cause.map { "\($0)" } ?? "none", default: 0] += 1
        }
    }

    var snapshot: ChainHopReport { self.state.withLock { $0 } }
}
