#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DeadlineRPC
import Dispatch
import Foundation
import Synchronization

/// One `rpcbench serve` child on 127.0.0.1: started, waited for until it listens, killed with SIGKILL.
final class ReplicaProcess: Sendable {
    /// The child.
    let process: Process
    /// Its process id.
    let pid: Int32
    /// The port it listens on.
    let port: Int
    // The parent's end of the child's standard input: the child exits when it closes (`serve --exit-with-stdin`).
    private let stdin: FileHandle
    // Held open so that the child never writes into a closed pipe (SIGPIPE); it writes one line only.
    private let stdout: FileHandle

    private init(process: Process, port: Int, stdin: FileHandle, stdout: FileHandle) {
        self.process = process
        self.pid = process.processIdentifier
        self.port = port
        self.stdin = stdin
        self.stdout = stdout
    }

    /// Starts `executable serve --port port …` (0: a free port) and returns once it prints the address it listens
    /// on; kills it and throws when it does not within `timeout`, or exits first (the port taken, say).
    /// `started` hears the child's pid as soon as it runs, before it listens.
    static func start(
        executable: URL,
        port: Int,
        extraArguments: [String],
        timeout: Duration,
        started: @Sendable (Int32) -> Void
    ) async throws -> ReplicaProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "\(port)", "--chain", "1", "--exit-with-stdin"] + extraArguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw RPCError(code: .internal, message: "Could not start \(executable.path) serve: \(error)")
        }
        let pid = process.processIdentifier
        ChildProcesses.shared.register(pid)
        started(pid)
        // A child that never prints is killed, which ends the read with EOF.
        let answered = Atomic<Bool>(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.benchNanoseconds))) {
            if !answered.load(ordering: .acquiring) { sendSignal(SIGKILL, to: pid) }
        }
        let line = await Self.readLine(output.fileHandleForReading)
        answered.store(true, ordering: .releasing)
        guard let listening = Self.port(inServeLine: line) else {
            sendSignal(SIGKILL, to: pid)
            await Self.waitForExit(process)
            ChildProcesses.shared.unregister(pid)
            let reason = line.isEmpty ? "exited or printed nothing within \(DurationParsing.format(timeout))" : "printed '\(line)'"
            throw RPCError(code: .unavailable, message: "rpcbench serve on port \(port) did not start: it \(reason).")
        }
        return ReplicaProcess(process: process, port: listening, stdin: input.fileHandleForWriting, stdout: output.fileHandleForReading)
    }

    /// SIGKILL: no drain, no GOAWAY; the kernel resets its connections. Returns once the child has exited and been
    /// reaped.
    func kill() async {
        sendSignal(SIGKILL, to: self.pid)
        await Self.waitForExit(self.process)
        try? self.stdin.close()
        try? self.stdout.close()
        ChildProcesses.shared.unregister(self.pid)
    }

    /// The port in `rpcbench serve: listening on HOST:PORT, …`; nil for any other line.
    static func port(inServeLine line: String) -> Int? {
        guard let range = line.range(of: "listening on ") else { return nil }
        let address = line[range.upperBound...].prefix { $0 != "," && $0 != " " }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            port > 0, port < 65_536
        else { return nil }
        return port
    }

    /// Reads one line (without the newline), off the cooperative pool: the read blocks.
    private static func readLine(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var data = Data()
                while data.count < 4_096 {
                    let byte = handle.readData(ofLength: 1)
                    if byte.isEmpty || byte == Data([0x0A]) { break }
                    data.append(byte)
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    /// Waits for `process` to exit, off the cooperative pool (the wait blocks a thread).
    private static func waitForExit(_ process: Process) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }
}

/// `kill(2)`, under a name the type's own `kill()` does not hide.
private func sendSignal(_ signalNumber: Int32, to pid: Int32) {
    _ = kill(pid, signalNumber)
}
