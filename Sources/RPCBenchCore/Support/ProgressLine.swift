#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// The line on stderr that shows a run's progress: phase, elapsed time, calls and errors. On a terminal it is
/// rewritten in place four times a second; otherwise a line is printed every second.
public final class ProgressLine: Sendable {
    private struct State {
        var phase = "starting"
        var startedAt: Int64
        var planned: Double = 0
    }
    private let state = Mutex(State(startedAt: BenchClock.now()))
    private let interactive: Bool
    /// The counters it shows.
    public let live: LiveCounters

    /// Creates a progress line over `live`.
    public init(live: LiveCounters) {
        self.live = live
        self.interactive = isatty(STDERR_FILENO) != 0
    }

    /// Starts showing `phase`, planned to take `planned`.
    public func begin(_ phase: String, planned: Duration) {
        self.state.withLock {
            $0 = State(phase: phase, startedAt: BenchClock.now(), planned: planned.benchSeconds)
        }
    }

    /// Shows a phase with no planned length (settling, draining).
    public func note(_ phase: String) {
        self.begin(phase, planned: .zero)
    }

    /// Renders until the task is cancelled, then clears the line.
    public func run() async {
        let period: Duration = self.interactive ? .milliseconds(250) : .seconds(1)
        while !Task.isCancelled {
            self.render()
            try? await Task.sleep(for: period)
        }
        if self.interactive { Self.write("\r\u{1B}[2K") }
    }

    /// The current line's text.
    public var text: String {
        let state = self.state.withLock { $0 }
        let elapsed = Double(BenchClock.now() - state.startedAt) / 1e9
        let time = state.planned > 0 ? "\(Self.oneDecimal(elapsed))/\(Self.oneDecimal(state.planned)) s" : "\(Self.oneDecimal(elapsed)) s"
        return "[\(state.phase)] \(time)  victims \(self.live.victimCalls) calls, \(self.live.victimFailures) errors"
            + "  storm \(self.live.stormCalls) calls"
    }

    private func render() {
        if self.interactive {
            Self.write("\r\u{1B}[2K" + self.text)
        } else {
            Self.write(self.text + "\n")
        }
    }

    /// Writes to stderr.
    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// A non-negative number with one decimal.
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((max(0, value) * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
