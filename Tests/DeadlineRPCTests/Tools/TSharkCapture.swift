import Dispatch
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `tshark` as the dissector tests use it: a live capture on the loopback interface, started and stopped on
/// events (never on sleeps), and the dissector run over the file it wrote.
final class TSharkCapture: Sendable {
    /// The installed `tshark`, if any (Debian's package puts it in /usr/bin; `.ci/run` installs it).
    static let executable: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent("tshark")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()

    /// The dissector under test, found from this file's place in the repository.
    static let dissector = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tools/wireshark/drpc.lua")

    /// What one pipe delivered so far, with the texts a test waits for.
    private final class Stream: Sendable {
        private let state = Mutex<(data: Data, watches: [(needle: Data, signal: Signal)])>((Data(), []))

        /// Reads `handle` on a thread of its own until end of file (a child that fills a pipe nobody reads
        /// would block, so both pipes are drained from the start).
        func drain(_ handle: FileHandle) {
            Thread.detachNewThread {
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    let fired = self.state.withLock { state -> [Signal] in
                        let start = max(0, state.data.count - 256)
                        state.data.append(chunk)
                        let tail = state.data[(state.data.startIndex + start)...]
                        let (hits, rest) = state.watches.reduce(into: ([Signal](), [(needle: Data, signal: Signal)]())) {
                            if tail.range(of: $1.needle) != nil { $0.0.append($1.signal) } else { $0.1.append($1) }
                        }
                        state.watches = rest
                        return hits
                    }
                    for signal in fired { signal.fire() }
                }
            }
        }

        /// A signal fired once `text` has arrived (at once if it already has). `text` is at most 256 bytes.
        func watch(_ text: String) -> Signal {
            let signal = Signal()
            let needle = Data(text.utf8)
            let already = self.state.withLock { state -> Bool in
                if state.data.range(of: needle) != nil { return true }
                state.watches.append((needle, signal))
                return false
            }
            if already { signal.fire() }
            return signal
        }

        var text: String { self.state.withLock { String(decoding: $0.data, as: UTF8.self) } }
    }

    private let process: Process
    private let output = Stream()
    private let errors = Stream()
    /// The capture file (pcapng).
    let file: URL

    /// Starts capturing TCP port `port` on `lo` into a new temporary file, printing every packet's TCP payload
    /// (hex) so a test can wait for the last bytes it needs; returns once tshark says it is capturing.
    init(port: Int) async throws {
        guard let tshark = Self.executable else { throw CaptureError("tshark is not installed") }
        self.file = FileManager.default.temporaryDirectory
            .appendingPathComponent("drpc-dissector-\(UUID().uuidString).pcapng")
        let process = Process()
        process.executableURL = tshark
        process.arguments = [
            "-i", "lo", "-f", "tcp port \(port)", "-w", self.file.path,
            "-P", "-l", "-T", "fields", "-e", "tcp.payload",
        ]
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        self.process = process
        // tshark prints "Capturing on" before it starts dumpcap; it logs the file name once dumpcap has opened the
        // interface, set the filter and created the file: from then on every packet is kept.
        let capturing = self.errors.watch("File: \"")
        try Self.runWithSignalsUnblocked(process)
        self.output.drain(output.fileHandleForReading)
        self.errors.drain(errors.fileHandleForReading)
        guard await capturing.wait(timeout: .seconds(60)) else {
            process.interrupt()
            throw CaptureError("tshark did not start capturing: \(self.errors.text)")
        }
    }

    /// Waits until tshark has read a packet whose TCP payload contains `bytes`: everything sent before them is in
    /// the file. False (and an issue recorded) if that did not happen within `timeout`.
    func waitForPayload(_ bytes: [UInt8], timeout: Duration = .seconds(60)) async -> Bool {
        await self.output.watch(bytes.map { String(format: "%02x", $0) }.joined()).wait(timeout: timeout)
    }

    /// Starts `process` with no signal blocked. A child inherits the signal mask of the thread that spawns it, and
    /// the test's threads (libdispatch workers) block most signals, SIGINT included: tshark would never see its
    /// stop signal.
    private static func runWithSignalsUnblocked(_ process: Process) throws {
        var none = sigset_t()
        sigemptyset(&none)
        var previous = sigset_t()
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    private let stopped = Mutex(false)

    /// Stops the capture (SIGINT, as a user's Ctrl-C: tshark closes the file properly) and waits for tshark to
    /// exit; kills it if it has not exited within `timeout` (recording an issue). Only the first call acts.
    func stop(timeout: Duration = .seconds(60)) async {
        guard self.stopped.withLock({ stopped in defer { stopped = true }; return !stopped }) else { return }
        let exited = Signal()
        let process = self.process
        DispatchQueue.global().async {
            process.waitUntilExit()
            exited.fire()
        }
        process.interrupt()
        if await !exited.wait(timeout: timeout) {
            kill(process.processIdentifier, SIGKILL)
            await ChildProcess.waitForExit(process)
        }
    }

    /// What tshark reported on standard error (for failure messages).
    var diagnostics: String { self.errors.text }

    /// Runs the dissector over the capture: `tshark -r FILE -X lua_script:drpc.lua ARGUMENTS -T pdml`; returns the
    /// PDML and tshark's standard error.
    func dissect(_ arguments: [String]) async throws -> (pdml: String, stderr: String) {
        guard let tshark = Self.executable else { throw CaptureError("tshark is not installed") }
        let process = Process()
        process.executableURL = tshark
        process.arguments = ["-r", self.file.path, "-X", "lua_script:\(Self.dissector.path)"] + arguments + ["-T", "pdml"]
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let out = Stream()
        let err = Stream()
        try Self.runWithSignalsUnblocked(process)
        out.drain(output.fileHandleForReading)
        err.drain(errors.fileHandleForReading)
        await ChildProcess.waitForExit(process)
        // The pipes reach end of file once tshark has exited and its last bytes are read.
        _ = await out.watch("</pdml>").wait(timeout: .seconds(60))
        return (out.text, err.text)
    }

    /// Removes the capture file.
    func removeFile() {
        try? FileManager.default.removeItem(at: self.file)
    }

    /// A capture that could not be made.
    struct CaptureError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
