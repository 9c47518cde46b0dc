import DeadlineRPC
import Dispatch
import Foundation

/// Running the package's own executables (`demo-services`) as child processes in tests.
enum ChildProcess {
    /// The built executable `name`, from the package's build folder or beside the test bundle.
    static func findExecutable(_ name: String, root: URL) throws -> URL {
        for configuration in ["debug", "release"] {
            for triple in ["", "x86_64-unknown-linux-gnu/", "aarch64-unknown-linux-gnu/"] {
                let url = root.appendingPathComponent(".build/\(triple)\(configuration)/\(name)")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
        }
        // Next to the test bundle (custom scratch paths).
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let sibling = bundleDir.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: sibling.path) { return sibling }
        throw RPCError(code: .notFound, message: "\(name) was not built; run `swift build` first.")
    }

    /// Reads one line (without the newline) from `handle`, off the cooperative pool: the read blocks.
    static func readLine(_ handle: FileHandle) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var data = Data()
                while true {
                    let byte = handle.readData(ofLength: 1)
                    if byte.isEmpty || byte == Data([0x0A]) { break }
                    data.append(byte)
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    /// Waits for `process` to exit, off the cooperative pool (the wait blocks a thread).
    static func waitForExit(_ process: Process) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }
}
