import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `demo-services` executable run as a child process, its standard output and error collected as they
/// arrive, so a test can wait for a line, signal it, and read everything it printed once it exits.
final class DemoProcess: Sendable {
    /// The process.
    let process: Process
    private let output = Stream()
    private let errors = Stream()

    /// What one pipe delivered so far, and whether it reached end of file.
    private final class Stream: Sendable {
        let data = Mutex<Data>(Data())
        let closed = Atomic<Bool>(false)

        /// Reads `handle` on a thread of its own until end of file.
        func drain(_ handle: FileHandle) {
            Thread.detachNewThread {
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    self.data.withLock { $0.append(chunk) }
                }
                self.closed.store(true, ordering: .releasing)
            }
        }

        var text: String { self.data.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    /// Starts `demo-services ARGUMENTS`.
    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = try DemoTestSupport.executable()
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        self.process = process
        try process.run()
        // Both pipes are drained from the start: a child that fills a pipe nobody reads would block.
        self.output.drain(output.fileHandleForReading)
        self.errors.drain(errors.fileHandleForReading)
    }

    /// The process id.
    var pid: Int32 { self.process.processIdentifier }

    /// Everything written to standard output so far.
    var stdout: String { self.output.text }

    /// Everything written to standard error so far.
    var stderr: String { self.errors.text }

    /// Waits until standard output contains `text`; false if the process exits or `timeout` passes first.
    func waitForOutput(_ text: String, timeout: Duration) async throws -> Bool {
        _ = try await DemoTestSupport.eventually(timeout: timeout) {
            self.stdout.contains(text) || !self.process.isRunning
        }
        return self.stdout.contains(text)
    }

    /// Waits for the process to exit and its standard output to reach end of file (so `stdout` is complete);
    /// returns the exit status, or nil if it was still running after `timeout` (or died of a signal).
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let exited = try await DemoTestSupport.eventually(timeout: timeout) { !self.process.isRunning }
        guard exited else { return nil }
        // The launcher's children write to pipes of their own, so its output ends when it does.
        _ = try await DemoTestSupport.eventually(timeout: .seconds(10)) { self.output.closed.load(ordering: .acquiring) }
        return self.process.terminationReason == .exit ? self.process.terminationStatus : nil
    }

    /// Sends `signal`.
    func send(_ signal: Int32) {
        kill(self.pid, signal)
    }

    /// Cleanup after a failed test: SIGTERM (the launcher stops its children), then SIGKILL for it and for
    /// `children` if it does not exit within 30 s.
    func stop(children: [Int32] = []) async {
        guard self.process.isRunning else { return }
        self.send(SIGTERM)
        if (try? await self.waitForExit(timeout: .seconds(30))) == nil {
            self.send(SIGKILL)
            for child in children { kill(child, SIGKILL) }
        }
    }

    /// The processes whose parent is `pid`, with their arguments: from `/proc` on Linux, `pgrep -P` elsewhere
    /// (without arguments).
    static func children(of pid: Int32) -> [(pid: Int32, arguments: [String])] {
        let proc = URL(fileURLWithPath: "/proc")
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: proc.path), !entries.isEmpty {
            return entries.compactMap { entry -> (Int32, [String])? in
                // /proc/N/stat is `N (COMMAND) STATE PPID …`; the command may hold spaces, so read after the last `)`.
                guard let child = Int32(entry),
                    let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return nil }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 1, Int32(fields[1]) == pid else { return nil }
                let commandLine = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline"))) ?? Data()
                return (child, commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
            }
        }
        let pgrep = Process()
        pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        pgrep.arguments = ["-P", "\(pid)"]
        let pipe = Pipe()
        pgrep.standardOutput = pipe
        guard (try? pgrep.run()) != nil else { return [] }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        pgrep.waitUntilExit()
        return text.split(separator: "\n").compactMap { Int32($0) }.map { ($0, []) }
    }

    /// Whether a process `pid` exists (running, or exited and not yet reaped).
    static func exists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
