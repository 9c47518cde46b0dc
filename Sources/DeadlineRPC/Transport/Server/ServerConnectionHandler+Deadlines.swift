import NIOCore
import Wire

// The connection's one deadline timer.
extension ServerConnectionHandler {
    // MARK: Deadlines

    /// Queues the stream's deadline (or straggler check) behind the connection's one deadline timer.
    func queueDeadline(_ stream: ServerStream, at deadline: Deadline) {
        if let armAt = self.deadlines.insert(stream, deadline: deadline.uptimeNanoseconds) {
            self.armDeadlineTimer(at: armAt)
        }
    }

    func armDeadlineTimer(at uptimeNanoseconds: Int64) {
        LatencyTrace.mark(.serverDeadlineArmed, self, value: uptimeNanoseconds)
        self.deadlines.arm(at: uptimeNanoseconds) { [self] in self.deadlinesDue() }
    }

    /// The deadline timer fired: expire the calls whose deadline came, check the handlers whose grace period ran out.
    func deadlinesDue() {
        let due = self.deadlines.fired()
        LatencyTrace.mark(.serverDeadlineFired, self, value: Int64(due.count))
        for stream in due where self.streams[stream.id] === stream {
            if stream.machine.isWindingDown {
                self.stragglerCheck(stream)
            } else {
                self.perform(stream.machine.deadlineExpired(), on: stream)
            }
        }
        if let armAt = self.deadlines.nextArm() { self.armDeadlineTimer(at: armAt) }
        if !due.isEmpty { self.flushSoon() }
    }
}
