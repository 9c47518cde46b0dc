import Wire
import NIOCore

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

    /// The current instant.
    @inlinable
    public static func now() -> Deadline {
        Deadline(uptimeNanoseconds: Int64(NIODeadline.now().uptimeNanoseconds))
    }

    /// The instant `duration` from now.
    public static func after(_ duration: Duration) -> Deadline {
        Deadline.now() + duration
    }

    /// A deadline that never comes.
    public static let distantFuture = Deadline(uptimeNanoseconds: Int64.max)

    /// Time left until the deadline (negative once passed).
    public var timeRemaining: Duration {
        if self == .distantFuture { return .seconds(Int64.max / 1_000_000_000) }
        return .nanoseconds(self.uptimeNanoseconds &- Deadline.now().uptimeNanoseconds)
    }

    /// Whether the deadline has passed.
    public var hasPassed: Bool { Deadline.now() >= self }

    /// Orders deadlines by time: the earlier one is smaller.
    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.uptimeNanoseconds < rhs.uptimeNanoseconds }

    /// The deadline moved by `duration` (saturating).
    public static func + (lhs: Deadline, rhs: Duration) -> Deadline {
        let (result, overflow) = lhs.uptimeNanoseconds.addingReportingOverflow(rhs.nanoseconds)
        if overflow { return rhs > .zero ? .distantFuture : Deadline(uptimeNanoseconds: .min) }
        return Deadline(uptimeNanoseconds: result)
    }

    /// The time from `rhs` to `lhs`.
    public static func - (lhs: Deadline, rhs: Deadline) -> Duration {
        .nanoseconds(lhs.uptimeNanoseconds &- rhs.uptimeNanoseconds)
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

    var nioDeadline: NIODeadline {
        NIODeadline.uptimeNanoseconds(UInt64(clamping: self.uptimeNanoseconds))
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64`'s range.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = fromSeconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }

    /// The duration in whole microseconds (rounded toward zero).
    var microseconds: Int64 { self.nanoseconds / 1_000 }
}
