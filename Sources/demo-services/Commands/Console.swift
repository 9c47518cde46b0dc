import Foundation
import Logging

/// Where the commands write: results to standard output, progress to standard error (so the table can be
/// piped), and the group logger.
enum Console {
    /// A progress line on standard error.
    @Sendable static func progress(_ line: String) {
        FileHandle.standardError.write(Data("\(line)\n".utf8))
    }

    /// A line on standard output, written at once (a parent process may be reading it through a pipe).
    static func output(_ text: String) {
        FileHandle.standardOutput.write(Data("\(text)\n".utf8))
    }

    /// A logger on standard error at warning level, for service groups.
    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }
}
