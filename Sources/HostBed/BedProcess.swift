import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A process the test bed started (inside a host, or dnsmasq in the bed's DNS namespace), its standard output
/// split into lines a test can await, its standard error kept, and its exit awaitable.
///
/// ```swift
/// let server = try await host.run(demoServices, ["chain-hop", "--host", host.address, "--port", "7000"])
/// let ready = try await server.line(containing: "listening on")
/// ```
package final class BedProcess: Sendable {
    /// What the bed ran, for messages: the executable and its arguments (without the `ip netns exec` prefix).
    package let command: [String]
    private let process: Process
    private let state = Mutex(State())

    /// How a process ended.
    package enum Termination: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// A signal killed it.
        case signalled(Int32)

        /// `exit 0`, `signal 9`.
        package var description: String {
            switch self {
            case .exited(let status): return "exit \(status)"
            case .signalled(let signal): return "signal \(signal)"
            }
        }
    }

    private struct State {
        var lines: [String] = []
        var partialLine = Data()
        var outputEnded = false
        var standardError = Data()
        var termination: Termination?
        var lineWaiters: [Int: LineWaiter] = [:]
        var exitWaiters: [Int: CheckedContinuation<Termination, any Error>] = [:]
        var outputEndWaiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter = 0

        /// The `occurrence`-th line matching `predicate`, if printed yet.
        func match(_ waiter: LineWaiter) -> String? {
            var seen = 0
            for line in self.lines where waiter.predicate(line) {
                seen += 1
                if seen == waiter.occurrence { return line }
            }
            return nil
        }
    }

    private struct LineWaiter {
        var predicate: @Sendable (String) -> Bool
        var occurrence: Int
        var continuation: CheckedContinuation<String, any Error>
    }

    /// Starts `executable ARGUMENTS` with output collected; `command` is what messages call it.
    static func start(executable: String, arguments: [String], command: [String]) async throws -> BedProcess {
        let process = BedProcess(executable: executable, arguments: arguments, command: command)
        try await Spawn.start(process.process)
        process.drainOutput()
        return process
    }

    private let output: Pipe
    private let errors: Pipe

    private init(executable: String, arguments: [String], command: [String]) {
        self.command = command
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        self.output = output
        self.errors = errors
        self.process = process
        process.terminationHandler = { [weak self] process in
            let termination: Termination =
                process.terminationReason == .exit ? .exited(process.terminationStatus) : .signalled(process.terminationStatus)
            self?.ended(termination)
        }
    }

    /// Reads both pipes until end of file.
    private func drainOutput() {
        let (output, errors, command) = (self.output, self.errors, self.command)
        // Both pipes are drained from the start, each on a thread of its own (the reads block): a child that
        // fills a pipe nobody reads would stall. Each thread ends at end of file.
        let name = command.joined(separator: " ")
        Thread.detachNewThread {
            let handle = output.fileHandleForReading
            while true {
                let chunk = handle.availableData
                self.append(chunk, command: name)
                if chunk.isEmpty { break }
            }
        }
        Thread.detachNewThread {
            let handle = errors.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                self.state.withLock { state in
                    state.standardError.append(chunk)
                    // Keep the last 256 KiB: enough for a failure message, bounded for a chatty child.
                    if state.standardError.count > 262_144 { state.standardError.removeFirst(state.standardError.count - 262_144) }
                }
            }
        }
    }

    /// Records the end and wakes the exit waiters.
    private func ended(_ termination: Termination) {
        let waiters = self.state.withLock { state in
            state.termination = termination
            defer { state.exitWaiters = [:] }
            return Array(state.exitWaiters.values)
        }
        for waiter in waiters { waiter.resume(returning: termination) }
    }

    /// The process id of what the bed started (the program itself: `ip netns exec` and `unshare` exec it).
    package var pid: Int32 { self.process.processIdentifier }

    /// Whether it still runs.
    package var isRunning: Bool { self.state.withLock { $0.termination == nil } }

    /// Every complete line written to standard output so far.
    package var lines: [String] { self.state.withLock { $0.lines } }

    /// Standard error so far (its last 256 KiB).
    package var standardError: String { self.state.withLock { String(decoding: $0.standardError, as: UTF8.self) } }

    /// Waits for the `occurrence`-th line (1 = the first) of standard output containing `text`, printed before or
    /// after this call; throws if the output ends or `timeout` passes first.
    @discardableResult
    package func line(containing text: String, occurrence: Int = 1, timeout: Duration = .seconds(30)) async throws -> String {
        try await self.line(occurrence: occurrence, timeout: timeout, description: "containing '\(text)'") { $0.contains(text) }
    }

    /// Waits for the `occurrence`-th line of standard output for which `predicate` holds; throws if the output ends
    /// or `timeout` passes first. `description` names the line in the error.
    @discardableResult
    package func line(
        occurrence: Int = 1,
        timeout: Duration = .seconds(30),
        description: String = "matching the predicate",
        where predicate: @escaping @Sendable (String) -> Bool
    ) async throws -> String {
        let what = "line \(occurrence) \(description) from \(self.command.joined(separator: " "))"
        return try await withTimeout(timeout, what) {
            let id = self.state.withLock { state -> Int in
                defer { state.nextWaiter += 1 }
                return state.nextWaiter
            }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
                    let waiter = LineWaiter(predicate: predicate, occurrence: occurrence, continuation: continuation)
                    let now: Result<String, any Error>? = self.state.withLock { state in
                        if let line = state.match(waiter) { return .success(line) }
                        if state.outputEnded { return .failure(TestBedError("no \(what): its output ended. Its standard output:\n\(state.lines.joined(separator: "\n"))\nIts standard error:\n\(String(decoding: state.standardError.suffix(4_096), as: UTF8.self))")) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        state.lineWaiters[id] = waiter
                        return nil
                    }
                    if let now { continuation.resume(with: now) }
                }
            } onCancel: {
                let waiter = self.state.withLock { $0.lineWaiters.removeValue(forKey: id) }
                waiter?.continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Waits for the process to end; throws if `timeout` passes first. Its standard output is complete in ``lines``
    /// when this returns — unless a process it left behind holds the pipe open for more than 2 s after it ended.
    @discardableResult
    package func waitForExit(timeout: Duration = .seconds(30)) async throws -> Termination {
        let termination = try await self.termination(timeout: timeout)
        // The exit is noticed on Foundation's thread, the last output on the reader's: either may come first.
        try? await self.outputEnd(timeout: .seconds(2))
        return termination
    }

    /// Waits for the end of standard output; throws if `timeout` passes first.
    private func outputEnd(timeout: Duration) async throws {
        try await withTimeout(timeout, "the end of the output of \(self.command.joined(separator: " "))") {
            let id = self.state.withLock { state -> Int in
                defer { state.nextWaiter += 1 }
                return state.nextWaiter
            }
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let now: Result<Void, any Error>? = self.state.withLock { state in
                        if state.outputEnded { return .success(()) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        state.outputEndWaiters[id] = continuation
                        return nil
                    }
                    if let now { continuation.resume(with: now) }
                }
            } onCancel: {
                let waiter = self.state.withLock { $0.outputEndWaiters.removeValue(forKey: id) }
                waiter?.resume(throwing: CancellationError())
            }
        }
    }

    /// Waits for the process to end, whatever its output does; throws if `timeout` passes first.
    private func termination(timeout: Duration) async throws -> Termination {
        try await withTimeout(timeout, "the exit of \(self.command.joined(separator: " "))") {
            let id = self.state.withLock { state -> Int in
                defer { state.nextWaiter += 1 }
                return state.nextWaiter
            }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Termination, any Error>) in
                    let now: Result<Termination, any Error>? = self.state.withLock { state in
                        if let termination = state.termination { return .success(termination) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        state.exitWaiters[id] = continuation
                        return nil
                    }
                    if let now { continuation.resume(with: now) }
                }
            } onCancel: {
                let waiter = self.state.withLock { $0.exitWaiters.removeValue(forKey: id) }
                waiter?.resume(throwing: CancellationError())
            }
        }
    }

    /// Sends `signal` to the process (nothing if it has ended).
    package func signal(_ signal: Int32) {
        guard self.isRunning else { return }
        kill(self.pid, signal)
    }

    /// SIGTERM, then SIGKILL if it has not ended within `grace`; returns how it ended (nil if even SIGKILL did
    /// not end it within 10 s, say a process stuck in the kernel).
    @discardableResult
    package func stop(grace: Duration = .seconds(10)) async -> Termination? {
        self.signal(SIGTERM)
        if let termination = try? await self.waitForExit(timeout: grace) { return termination }
        self.signal(SIGKILL)
        return try? await self.waitForExit(timeout: .seconds(10))
    }

    /// Appends a chunk of standard output (empty: end of file) and wakes the waiters it satisfies.
    private func append(_ chunk: Data, command: String) {
        var ended: [CheckedContinuation<Void, any Error>] = []
        let (matched, failed, output) = self.state.withLock { state -> ([(LineWaiter, String)], [LineWaiter], String) in
            if chunk.isEmpty {
                if !state.partialLine.isEmpty {
                    state.lines.append(String(decoding: state.partialLine, as: UTF8.self))
                    state.partialLine = Data()
                }
                state.outputEnded = true
            } else {
                state.partialLine.append(chunk)
                while let newline = state.partialLine.firstIndex(of: 0x0A) {
                    let line = state.partialLine[state.partialLine.startIndex..<newline]
                    state.lines.append(String(decoding: line, as: UTF8.self))
                    state.partialLine = Data(state.partialLine[(newline + 1)...])
                }
            }
            var matched: [(LineWaiter, String)] = []
            for (id, waiter) in state.lineWaiters {
                if let line = state.match(waiter) {
                    matched.append((waiter, line))
                    state.lineWaiters[id] = nil
                }
            }
            var failed: [LineWaiter] = []
            if state.outputEnded {
                failed = Array(state.lineWaiters.values)
                state.lineWaiters = [:]
                ended = Array(state.outputEndWaiters.values)
                state.outputEndWaiters = [:]
            }
            return (matched, failed, failed.isEmpty ? "" : state.lines.suffix(50).joined(separator: "\n"))
        }
        for waiter in ended { waiter.resume() }
        for (waiter, line) in matched { waiter.continuation.resume(returning: line) }
        for waiter in failed {
            waiter.continuation.resume(throwing: TestBedError("the output of \(command) ended before the awaited line; its last lines:\n\(output)"))
        }
    }
}
