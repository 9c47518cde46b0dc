import Logging
import Synchronization
import Testing

/// Keeps every log record in memory so a test can assert what was logged.
final class LogCapture: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
        /// When it was logged (for reports; tests order events by awaiting them, not by these).
        var at: ContinuousClock.Instant = .now
    }

    private struct Storage {
        var records: [Record] = []
        var waiters: [(matches: @Sendable (Record) -> Bool, signal: Signal)] = []
    }

    private let storage = Mutex(Storage())

    var records: [Record] { self.storage.withLock { $0.records } }

    func append(_ record: Record) {
        let due = self.storage.withLock { storage -> [Signal] in
            storage.records.append(record)
            let due = storage.waiters.filter { $0.matches(record) }.map(\.signal)
            storage.waiters.removeAll { $0.matches(record) }
            return due
        }
        for signal in due { signal.fire() }
    }

    /// Waits until a record matching `predicate` is logged (or was already), and returns the first such record;
    /// nil, with an issue recorded, if none arrives within `timeout` (which only turns a hang into a failure).
    func first(
        timeout: Duration = .seconds(30),
        sourceLocation: SourceLocation = #_sourceLocation,
        where predicate: @escaping @Sendable (Record) -> Bool
    ) async -> Record? {
        let signal = Signal()
        let already = self.storage.withLock { storage -> Bool in
            if storage.records.contains(where: predicate) { return true }
            storage.waiters.append((predicate, signal))
            return false
        }
        if !already { await signal.wait(timeout: timeout, sourceLocation: sourceLocation) }
        return self.records.first(where: predicate)
    }

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
