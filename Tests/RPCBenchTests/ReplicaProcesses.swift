import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `rpcbench` executable and the processes it starts, for the replica tests.
enum ReplicaProcesses {
    /// The built `rpcbench`: beside the test bundle (any scratch path), else in the package's `.build`.
    static func executable() throws -> URL {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var candidates = [bundleDirectory.appendingPathComponent("rpcbench")]
        for triple in ["", "x86_64-unknown-linux-gnu/", "aarch64-unknown-linux-gnu/"] {
            candidates.append(root.appendingPathComponent(".build/\(triple)debug/rpcbench"))
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "rpcbench (run `swift build` first)"])
        }
        return found
    }

    /// The processes whose parent is `pid`, with their arguments (from `/proc`).
    static func children(of pid: Int32) -> [(pid: Int32, arguments: [String])] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> (Int32, [String])? in
            // /proc/N/stat is `N (COMMAND) STATE PPID …`; the command may hold spaces, so read after the last `)`.
            guard let child = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == pid, fields[0] != "Z" else { return nil }
            let commandLine = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline"))) ?? Data()
            return (child, commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
        }
    }

    /// Replica processes (`rpcbench serve … --exit-with-stdin`) that are children of this process and have not
    /// exited.
    static var ownReplicas: [Int32] {
        Self.children(of: getpid()).filter { $0.arguments.contains("serve") && $0.arguments.contains("--exit-with-stdin") }.map(\.pid)
    }

    private typealias PidfdOpen = @convention(c) (Int32, UInt32) -> Int32
    private static let pidfdOpen: PidfdOpen? = dlsym(nil, "pidfd_open").map { unsafeBitCast($0, to: PidfdOpen.self) }

    /// Whether process `pid` — any process, not only a child of this one — has exited (or is gone) within
    /// `timeout`: the exit is awaited as an event, a `poll` on its pidfd, on a thread off the cooperative pool.
    static func exited(_ pid: Int32, within timeout: Duration) async -> Bool {
        let milliseconds = Int32(clamping: timeout.components.seconds * 1_000)
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Self.blockingWait(pid, milliseconds: milliseconds))
            }
        }
    }

    private static func blockingWait(_ pid: Int32, milliseconds: Int32) -> Bool {
        guard let open = Self.pidfdOpen else {
            // No pidfd_open in this libc: read the state every 10 ms instead (a zombie has exited).
            for _ in 0..<max(1, milliseconds / 10) {
                if Self.hasExited(pid) { return true }
                usleep(10_000)
            }
            return Self.hasExited(pid)
        }
        let descriptor = open(pid, 0)
        if descriptor < 0 { return errno == ESRCH }  // Gone already (exited and reaped).
        defer { close(descriptor) }
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&entry, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready == 1
        }
    }

    /// Gone, or a zombie (exited, not yet reaped by whichever process inherited it).
    static func hasExited(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return true
        }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}

/// `rpcbench ARGUMENTS` as a child process, its standard error read line by line as it arrives.
final class BenchProcess: Sendable {
    /// The process.
    let process: Process
    /// Standard error's lines, as they come; finishes at end of file.
    let errorLines: AsyncStream<String>
    private let collected = Mutex<[String]>([])

    /// Starts the built `rpcbench` with `arguments`.
    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = try ReplicaProcesses.executable()
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        self.process = process
        let (lines, continuation) = AsyncStream<String>.makeStream()
        self.errorLines = lines
        try process.run()
        let handle = errors.fileHandleForReading
        // A thread of its own: the reads block until the child writes or exits.
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[pending.index(after: newline)...])
                    self.collected.withLock { $0.append(line) }
                    continuation.yield(line)
                }
            }
            continuation.finish()
        }
    }

    /// The process id.
    var pid: Int32 { self.process.processIdentifier }

    /// Everything written to standard error so far.
    var stderr: String { self.collected.withLock { $0.joined(separator: "\n") } }

    /// Waits for the first line of standard error that starts with `prefix`; false if it ends first.
    func waitForLine(startingWith prefix: String) async -> Bool {
        for await line in self.errorLines where line.hasPrefix(prefix) { return true }
        return false
    }

    /// Waits for the process to exit (off the cooperative pool).
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.process.waitUntilExit()
                continuation.resume()
            }
        }
    }
}
