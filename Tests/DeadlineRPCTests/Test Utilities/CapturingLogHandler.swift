import Logging
import Synchronization

/// Keeps every log record in memory so a test can assert what was logged.
final class LogCapture: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let storage = Mutex<[Record]>([])

    var records: [Record] { self.storage.withLock { $0 } }

    func append(_ record: Record) { self.storage.withLock { $0.append(record) } }

    /// A logger writing here, at `level` and above.
    func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(capture: self) }
        logger.logLevel = level
        return logger
    }
}

/// The `LogHandler` behind ``LogCapture``.
struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        self.capture.append(.init(level: event.level, message: "\(event.message)", metadata: merged))
    }
}
