import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Benchmark-only timestamps along the cancel and deadline paths (`cascade-bench --trace`): where a cancel spends
/// its time between the caller's `Task.cancel()` and each hop's handler task, and when each side's deadline timer
/// is armed and fires. Off unless a benchmark turns it on; each mark point then costs one relaxed atomic load, and
/// the points sit on cancel and deadline paths only, never on a call's ordinary path.
@_spi(LatencyTrace)
public enum LatencyTrace {
    /// Where along the path an event was recorded.
    public enum Point: UInt8, Sendable, CaseIterable {
        /// The caller's task was cancelled: the outbound call's cancellation handler runs (caller's thread).
        case callerCancel
        /// The cancel reached the client's event loop (after the hop, if any).
        case clientCancelOnLoop
        /// The connection queued the `CANCEL` frame.
        case cancelQueued
        /// A write carrying at least one `CANCEL` was handed to the channel (value: `CANCEL`s in it).
        case cancelWritten
        /// The write returned (the bytes went to the socket, or were queued when it was not writable).
        case cancelWriteReturned
        /// A server connection decoded a `CANCEL` frame.
        case serverCancelFrame
        /// A server connection is about to cancel a handler task (value: the cancel reason).
        case handlerTaskCancel
        /// `Task.cancel()` on the handler task returned (its cancellation handlers ran synchronously inside).
        case handlerTaskCancelReturned
        /// A client armed its deadline timer (value: the instant it is armed for, uptime nanoseconds).
        case clientDeadlineArmed
        /// A client's deadline timer fired (value: calls due).
        case clientDeadlineFired
        /// A server armed its deadline timer (value: the instant).
        case serverDeadlineArmed
        /// A server's deadline timer fired (value: calls due).
        case serverDeadlineFired
        /// Marked by the benchmark itself (value: what it says).
        case benchmark
    }

    /// One recorded instant.
    public struct Event: Sendable {
        /// Where.
        public var point: Point
        /// When, on ``Deadline``'s clock (uptime nanoseconds).
        public var nanoseconds: Int64
        /// Which object recorded it (a connection, a manager), so events of one hop can be told apart.
        public var site: UInt
        /// The recording thread.
        public var thread: UInt
        /// A number the point gives meaning to.
        public var value: Int64
    }

    static let isOn = Atomic<Bool>(false)
    private static let events = Mutex<[Event]>([])

    /// Starts recording (clears what was recorded).
    public static func start(capacity: Int = 1 << 20) {
        self.events.withLock {
            $0 = []
            $0.reserveCapacity(capacity)
        }
        self.isOn.store(true, ordering: .releasing)
    }

    /// Stops recording and returns the events, in the order they were recorded.
    public static func stop() -> [Event] {
        self.isOn.store(false, ordering: .releasing)
        return self.events.withLock { events in
            defer { events = [] }
            return events
        }
    }

    /// Records a benchmark's own event.
    public static func benchmarkMark(site: UInt, value: Int64) {
        self.mark(.benchmark, site: site, value: value)
    }

    /// Records `point` when tracing is on.
    @inline(__always)
    static func mark(_ point: Point, _ site: AnyObject, value: Int64 = 0) {
        guard self.isOn.load(ordering: .relaxed) else { return }
        self.mark(point, site: UInt(bitPattern: ObjectIdentifier(site).hashValue), value: value)
    }

    @inline(never)
    private static func mark(_ point: Point, site: UInt, value: Int64) {
        guard self.isOn.load(ordering: .relaxed) else { return }
        let event = Event(
            point: point,
            nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds),
            site: site,
            thread: Self.currentThread,
            value: value
        )
        self.events.withLock { $0.append(event) }
    }

    private static var currentThread: UInt {
        #if canImport(Glibc)
        UInt(pthread_self())
        #elseif canImport(Darwin)
        UInt(bitPattern: pthread_self())
        #else
        0
        #endif
    }
}
