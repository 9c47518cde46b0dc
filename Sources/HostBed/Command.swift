import Dispatch
import Foundation

/// Runs system tools (`ip`, `kill`) to completion for the test bed, off the cooperative pool: each waits on a
/// Dispatch thread, which may block.
enum Command {
    /// What a finished command printed (standard output and error together) and its exit status.
    struct Result: Sendable {
        var status: Int32
        var output: String
    }

    /// Runs `executable ARGUMENTS` and returns its status and output, whatever the status.
    static func result(_ executable: String, _ arguments: [String]) async -> Result {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.standardInput = FileHandle.nullDevice
                // One pipe for both streams: reading two pipes in turn could deadlock on the other filling up.
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                do {
                    try Spawn.startBlocking(process)
                } catch {
                    continuation.resume(returning: Result(status: -1, output: "cannot start \(executable): \(error)"))
                    return
                }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self)))
            }
        }
    }

    /// Runs `executable ARGUMENTS`; throws with its output unless it exits 0. Returns the output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let result = await Self.result(executable, arguments)
        guard result.status == 0 else {
            let line = ([executable] + arguments).joined(separator: " ")
            throw TestBedError("`\(line)` failed (status \(result.status)): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return result.output
    }

    /// The path of `name` in `PATH` or the usual system folders (root's tools live in sbin), nil if absent.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// A test bed that cannot be set up or used, with the reason.
package struct TestBedError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    package var reason: String

    /// An error with `reason`.
    package init(_ reason: String) {
        self.reason = reason
    }

    /// The reason.
    package var description: String { self.reason }
}
