import DeadlineRPC
import Dispatch
import Foundation
import Testing

/// The built `drpc` executable run as a child process: its arguments, what it is fed on standard input, and
/// what it printed and exited with.
enum DRPCProcess {
    /// How one run ended.
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String

        var stdoutLines: [String] { Self.lines(self.stdout) }
        var stderrLines: [String] { Self.lines(self.stderr) }

        private static func lines(_ text: String) -> [String] {
            var lines = text.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            return lines
        }

        var description: String { "exit \(self.status)\nstdout:\n\(self.stdout)\nstderr:\n\(self.stderr)" }
    }

    /// The repository root (four levels above this file).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `drpc ARGUMENTS`, writing `stdin` (then end of file) to its standard input, and waits for it to exit.
    /// A run that has not exited after 60 s is killed (a safety net that turns a hang into a failure, not a timing
    /// assertion).
    static func run(_ arguments: [String], stdin: String? = nil) async throws -> Result {
        let process = Process()
        process.executableURL = try ChildProcess.findExecutable("drpc", root: Self.root)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        // Exit and end of output are events: the termination handler and two reader threads report them. Nothing
        // here blocks a cooperative or dispatch thread (thirty runs at once would starve both pools).
        let exited = Signal()
        process.terminationHandler = { _ in exited.fire() }
        try process.run()
        if let stdin {
            let handle = input.fileHandleForWriting
            Thread.detachNewThread {
                handle.write(Data(stdin.utf8))
                try? handle.close()
            }
        }
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: killer)
        async let out = Self.readToEnd(output.fileHandleForReading)
        async let err = Self.readToEnd(errors.fileHandleForReading)
        let (stdout, stderr) = await (out, err)
        await exited.wait(timeout: .seconds(90))
        killer.cancel()
        let status = process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
        return Result(status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Reads `handle` to end of file on a thread of its own (the read blocks).
    private static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }
}
