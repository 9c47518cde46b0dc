import DeadlineRPC
import Foundation
import NIOCore
import Synchronization

/// `--processes`: the chain as deployed, each hop's server (and its client of the next hop) in a process of its own
/// on 127.0.0.1, so no two hops share event loops or a cooperative pool. The hops report their handlers' start,
/// cancellation and return on stdout with the monotonic clock, which is the same system-wide on Linux, so the
/// caller's trigger and every hop's times compare directly.
final class ProcessChain: Sendable {
    let client: RPCClient
    let log: HopLog
    private let children: [Process]

    private init(client: RPCClient, log: HopLog, children: [Process]) {
        self.client = client
        self.log = log
        self.children = children
    }

    /// Starts the hops from the last to the first (each needs the next one's port), then the caller's client.
    static func start(hops: Int) async throws -> ProcessChain {
        let log = HopLog()
        var children: [Process] = []
        var nextPort: Int? = nil
        for hop in (0..<hops).reversed() {
            let (process, port) = try await Self.spawn(hop: hop, nextPort: nextPort, log: log)
            children.append(process)
            nextPort = port
        }
        return ProcessChain(client: RPCClient(host: "127.0.0.1", port: nextPort!), log: log, children: children)
    }

    /// Runs `cascade-bench --serve-hop hop [--next-port p]` and reads its reports; returns once it listens.
    private static func spawn(hop: Int, nextPort: Int?, log: HopLog) async throws -> (Process, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["--serve-hop", "\(hop)"] + (nextPort.map { ["--next-port", "\($0)"] } ?? [])
        let output = Pipe()
        let input = Pipe()  // Closed by this process's exit: the hop then stops too.
        process.standardOutput = output
        process.standardInput = input
        let reader = ReportReader(hop: hop, log: log)
        let handle = output.fileHandleForReading
        try process.run()
        let port = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            reader.onPort = { continuation.resume(returning: $0) }
            reader.onEnd = { continuation.resume(throwing: CancellationError()) }
            Thread.detachNewThread { reader.run(handle) }
        }
        Self.keptInputs.withLock { $0.append(input) }
        return (process, port)
    }

    /// The children's stdin pipes, kept open until this process exits.
    private static let keptInputs = Mutex<[Pipe]>([])

    /// Closes the client and stops the hops.
    func stop() async {
        await self.client.close()
        for child in self.children {
            child.terminate()
            child.waitUntilExit()
        }
    }
}

/// Reads one hop's report lines: `PORT p` once it listens, then per handler `S tag ns` when it started and
/// `E tag cancelled-ns returned-ns` when it returned (cancelled-ns 0 when it never was).
///
/// `@unchecked Sendable` is sound: `hop` and `log` are `let`s (`HopLog` is Sendable). `onPort` and `onEnd` are the
/// only mutable state; they are set before `Thread.detachNewThread` starts the reader thread (starting a thread
/// orders those writes before everything it does), and from then on only that thread reads and clears them.
final class ReportReader: @unchecked Sendable {
    let hop: Int
    let log: HopLog
    var onPort: ((Int) -> Void)?
    var onEnd: (() -> Void)?

    init(hop: Int, log: HopLog) {
        self.hop = hop
        self.log = log
    }

    func run(_ handle: FileHandle) {
        var pending = Data()
        while true {
            let data = handle.availableData
            if data.isEmpty { break }
            pending.append(data)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                self.handle(line)
            }
        }
        if let onEnd = self.onEnd {
            self.onPort = nil
            self.onEnd = nil
            onEnd()
        }
    }

    private func handle(_ line: String) {
        let fields = line.split(separator: " ")
        switch fields.first {
        case "PORT":
            if let port = Int(fields[1]), let onPort = self.onPort {
                self.onPort = nil
                self.onEnd = nil
                onPort(port)
            }
        case "S":
            guard fields.count == 3, let tag = UInt64(fields[1]), let at = Int64(fields[2]) else { return }
            self.log.started(tag: tag, hop: self.hop, at: at)
        case "E":
            guard fields.count == 4, let tag = UInt64(fields[1]), let cancelled = Int64(fields[2]), let returned = Int64(fields[3]) else { return }
            if cancelled != 0 { self.log.cancelled(tag: tag, hop: self.hop, at: cancelled) }
            self.log.returned(tag: tag, hop: self.hop, at: returned)
        default:
            break
        }
    }
}

/// `--serve-hop`: one hop of a `--processes` chain.
enum HopProcess {
    static func serve(hop: Int, isLast: Bool, nextPort: Int?) async throws {
        let downstream = nextPort.map { RPCClient(host: "127.0.0.1", port: $0) }
        let cancelledAt = Mutex<[UInt64: Int64]>([:])
        let out = Mutex(())
        @Sendable func report(_ line: String) {
            out.withLock { _ in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        }
        var configuration = RPCServer.Configuration()
        configuration.maxConcurrentStreams = 10_000
        let router = Chain.router(
            hop: hop, isLast: isLast, downstream: { downstream },
            started: { tag in report("S \(tag) \(now())") },
            // Only the instant is kept in onCancel: the report is written when the handler returns.
            cancelled: { tag in
                let at = now()
                cancelledAt.withLock { $0[tag] = at }
            },
            returned: { tag in
                let at = now()
                let cancelled = cancelledAt.withLock { $0.removeValue(forKey: tag) } ?? 0
                report("E \(tag) \(cancelled) \(at)")
            }
        )
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: configuration)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            report("PORT \(port)")
            // Until the parent goes away (its end of stdin closes), then drain and stop.
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    Thread.detachNewThread {
                        while !FileHandle.standardInput.availableData.isEmpty {}
                        continuation.resume()
                    }
                }
                if let downstream { await downstream.close() }
                server.beginGracefulShutdown()
            }
        }
    }
}
