import Dispatch
import Synchronization

/// Handlers wait here until their task is cancelled; `count` says how many are parked, and after `recordCancels()`
/// the instant each cancellation reached its handler is kept.
public final class ParkingLot: Sendable {
    private let parked = Atomic<Int>(0)
    private let log = Mutex<TimeLog?>(nil)

    /// Creates an empty lot.
    public init() {}

    /// Handlers parked now.
    public var count: Int { self.parked.load(ordering: .relaxed) }

    /// Starts a fresh record of cancel instants (for handlers parked from now on).
    public func recordCancels() { self.log.withLock { $0 = TimeLog(capacity: 10_000) } }

    /// The instants (`DispatchTime` uptime nanoseconds) cancellation reached the handlers parked since `recordCancels()`.
    public func cancelTimes() -> [UInt64] { self.log.withLock { $0?.values() ?? [] } }

    /// Waits until the task is cancelled, then throws `CancellationError`. A continuation per call, resumed by
    /// cancellation: the handler's own cost stays small and known.
    public func park() async throws {
        self.parked.add(1, ordering: .relaxed)
        defer { self.parked.subtract(1, ordering: .relaxed) }
        let log = self.log.withLock { $0 }
        let waiter = Waiter()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in waiter.install(continuation) }
        } onCancel: {
            log?.record(DispatchTime.now().uptimeNanoseconds)
            waiter.resume()
        }
        throw CancellationError()
    }
}

/// Instants recorded from many tasks.
public final class TimeLog: Sendable {
    private let times: Mutex<[UInt64]>

    /// Creates a log with room for `capacity` instants.
    public init(capacity: Int) {
        var times: [UInt64] = []
        times.reserveCapacity(capacity)
        self.times = Mutex(times)
    }

    /// Adds an instant.
    public func record(_ time: UInt64) { self.times.withLock { $0.append(time) } }
    /// Every instant recorded.
    public func values() -> [UInt64] { self.times.withLock { $0 } }
}

/// One parked handler's continuation, resumed once by whichever comes second: installing it or cancelling.
final class Waiter: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, cancelled: Bool)>((nil, false))

    func install(_ continuation: CheckedContinuation<Void, Never>) {
        let resumeNow = self.state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.continuation = continuation
            return false
        }
        if resumeNow { continuation.resume() }
    }

    func resume() {
        let continuation = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.cancelled = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }
}
