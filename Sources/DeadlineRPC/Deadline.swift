import Wire
import NIOCore
import Synchronization

/// A point on this host's monotonic clock by which a call must end.
///
/// Deadlines never travel as wall-clock time: on the wire a call carries its remaining budget, and each receiver
/// anchors it to its own monotonic clock when the call arrives.
public struct Deadline: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds on the monotonic clock (`CLOCK_MONOTONIC`, the clock NIO's timers use).
    public var uptimeNanoseconds: Int64

    /// Creates a deadline at a monotonic clock reading.
    public init(uptimeNanoseconds: Int64) {
        self.uptimeNanoseconds = uptimeNanoseconds
    }

    /// The current instant (inside a DeadlineRPCTesting scope, on its manual clock).
    @inlinable
    public static func now() -> Deadline {
        // One relaxed load in production: the task-local is looked up only while a test's manual clock exists.
        if _slowPath(ManualClock.installed.load(ordering: .relaxed) != 0), let manual = ManualClock.now() {
            return manual
        }
        return Deadline(uptimeNanoseconds: Int64(NIODeadline.now().uptimeNanoseconds))
    }

    /// The instant `duration` from now.
    public static func after(_ duration: Duration) -> Deadline {
        Deadline.now() + duration
    }

    /// A deadline that never comes.
    public static let distantFuture = Deadline(uptimeNanoseconds: Int64.max)

    /// Time left until the deadline: negative once passed, however long ago (saturating, never wrapping).
    public var timeRemaining: Duration {
        self.timeRemaining(at: Deadline.now())
    }

    /// Time left until the deadline as seen at `now` (a clock reading taken once and carried, such as an event
    /// loop's): the same rules as ``timeRemaining``.
    func timeRemaining(at now: Deadline) -> Duration {
        if self == .distantFuture { return .seconds(Int64.max / 1_000_000_000) }
        return self - now
    }

    /// Whether the deadline has passed.
    public var hasPassed: Bool { Deadline.now() >= self }

    /// Orders deadlines by time: the earlier one is smaller.
    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.uptimeNanoseconds < rhs.uptimeNanoseconds }

    /// The deadline moved by `duration`, saturating at the ends of the clock; `.distantFuture` stays
    /// `.distantFuture` (a deadline that never comes does not come sooner by being moved).
    @inlinable
    public static func + (lhs: Deadline, rhs: Duration) -> Deadline {
        if lhs.uptimeNanoseconds == .max { return lhs }
        let nanoseconds = rhs.nanoseconds
        if nanoseconds == .max || nanoseconds == .min {
            return Deadline(uptimeNanoseconds: Self.farMove(lhs.uptimeNanoseconds, by: rhs, subtracting: false))
        }
        let (result, overflow) = lhs.uptimeNanoseconds.addingReportingOverflow(nanoseconds)
        // Only a same-signed addend can overflow, so its sign says which end of the clock was passed.
        if overflow { return Deadline(uptimeNanoseconds: nanoseconds > 0 ? .max : .min) }
        return Deadline(uptimeNanoseconds: result)
    }

    /// The deadline moved back by `duration` (saturating, as `+`).
    @inlinable
    public static func - (lhs: Deadline, rhs: Duration) -> Deadline {
        if lhs.uptimeNanoseconds == .max { return lhs }
        let nanoseconds = rhs.nanoseconds
        if nanoseconds == .max || nanoseconds == .min {
            return Deadline(uptimeNanoseconds: Self.farMove(lhs.uptimeNanoseconds, by: rhs, subtracting: true))
        }
        let (result, overflow) = lhs.uptimeNanoseconds.subtractingReportingOverflow(nanoseconds)
        if overflow { return Deadline(uptimeNanoseconds: nanoseconds > 0 ? .min : .max) }
        return Deadline(uptimeNanoseconds: result)
    }

    /// `uptime ± duration` for a duration of 2^63 ns or more either way (so never on a real call's path), which
    /// clamping to 64 bits first would get wrong: `now + (−10^20 s)` must reach the start of the clock.
    @usableFromInline
    static func farMove(_ uptime: Int64, by duration: Duration, subtracting: Bool) -> Int64 {
        let forward = (duration > .zero) != subtracting
        // Moving away from zero, from its side of zero, by at least 2^63 ns: past the end of the clock.
        if (uptime >= 0) == forward { return forward ? .max : .min }
        // Towards zero: the exact 128-bit result lies between the operands, so it cannot overflow.
        let start = Duration.nanoseconds(uptime)
        return (subtracting ? start - duration : start + duration).nanoseconds
    }

    /// The time from `rhs` to `lhs`, saturating at ±(2^63 − 1) ns (about 292 years): a deadline far in the past is
    /// far in the past, never 292 years ahead.
    @inlinable
    public static func - (lhs: Deadline, rhs: Deadline) -> Duration {
        let (result, overflow) = lhs.uptimeNanoseconds.subtractingReportingOverflow(rhs.uptimeNanoseconds)
        if overflow { return .nanoseconds(lhs > rhs ? Int64.max : Int64.min) }
        return .nanoseconds(result)
    }

    /// Time remaining, in milliseconds, for logs.
    public var description: String {
        self == .distantFuture ? "Deadline(never)" : "Deadline(in \(self.timeRemaining))"
    }

    /// The earlier of two optional deadlines (nil when both are): the min rule without building an array per call.
    static func earliest(_ a: Deadline?, _ b: Deadline?) -> Deadline? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// The deadline at an event loop's clock reading.
    init(_ instant: NIODeadline) {
        self.init(uptimeNanoseconds: Int64(clamping: instant.uptimeNanoseconds))
    }

    var nioDeadline: NIODeadline {
        NIODeadline.uptimeNanoseconds(UInt64(clamping: self.uptimeNanoseconds))
    }
}

extension Duration {
    /// The duration in whole nanoseconds (rounded toward zero), saturating at `Int64`'s range: a `Duration` holds
    /// far more than 2^63 ns, and converting its seconds unchecked would wrap a huge negative timeout positive.
    /// `package` so that RPCBenchCore converts with this one rather than a copy.
    @inlinable
    package var nanoseconds: Int64 {
        // One 128-bit division, truncating toward zero as before, then clamped: `components` divides and
        // multiplies in 128 bits (~190 instructions, several times per call on the client's path).
        Int64(clamping: self.attoseconds / 1_000_000_000)
    }

    /// The duration in whole microseconds (rounded toward zero).
    var microseconds: Int64 { self.nanoseconds / 1_000 }
}
