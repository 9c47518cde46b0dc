import Synchronization

/// Latencies and outcomes of one stream of calls, shared by its caller tasks (a lock around an HdrHistogram, as
/// nio-transport's benchmark client does).
public final class LatencyRecorder: Sendable {
    private struct State {
        var histogram = LatencyHistogram()
        var outcomes: [String: Int] = [:]
        var succeeded = 0
        var failed = 0
        var lastCompletion: Int64 = 0
    }
    private let state: Mutex<State>
    private let live: LiveCounters?

    /// Creates an empty recorder; `live`, when given, is bumped on every call for the progress line.
    public init(live: LiveCounters? = nil) {
        self.state = Mutex(State())
        self.live = live
    }

    /// Records one call: its latency (from its intended start, in an open loop) and outcome.
    public func record(latencyNanoseconds: Int64, outcome: CallOutcome, completedAt: Int64) {
        self.state.withLock { state in
            switch outcome {
            case .ok:
                state.succeeded += 1
                state.histogram.record(nanoseconds: latencyNanoseconds)
            case .failed(let code):
                state.failed += 1
                state.outcomes[code, default: 0] += 1
            }
            state.lastCompletion = max(state.lastCompletion, completedAt)
        }
        self.live?.victimCompleted(failed: outcome != .ok)
    }

    /// The latency histogram of successful calls.
    public var histogram: LatencyHistogram { self.state.withLock { $0.histogram } }
    /// Failed calls by status code name.
    public var errorsByCode: [String: Int] { self.state.withLock { $0.outcomes } }
    /// Successful calls.
    public var succeeded: Int { self.state.withLock { $0.succeeded } }
    /// Failed calls.
    public var failed: Int { self.state.withLock { $0.failed } }
    /// The last completion instant (``BenchClock``), or 0.
    public var lastCompletion: Int64 { self.state.withLock { $0.lastCompletion } }
}
