@testable import DeadlineRPC
import Testing

/// ``KeepaliveProbe``, the keepalive's decisions that both connection handlers drive, step by step.
@Suite("Keepalive probe decisions")
struct KeepaliveProbeTests {
    @Test("A quiet interval pings (when worth probing); a heard one, or one not worth probing, waits another interval")
    func intervals() {
        var probe = KeepaliveProbe()
        probe.heardFromPeer()
        #expect(probe.intervalPassed(worthProbing: true) == .waitAnotherInterval)
        #expect(probe.intervalPassed(worthProbing: false) == .waitAnotherInterval)
        #expect(!probe.pingOutstanding)
        #expect(probe.intervalPassed(worthProbing: true) == .ping)
        #expect(probe.pingOutstanding)
    }

    @Test("After a ping: nothing heard by the timeout is a dead peer; any byte is an answer; so is the acknowledgement, which ends the wait at once")
    func answers() {
        var probe = KeepaliveProbe()
        #expect(probe.intervalPassed(worthProbing: true) == .ping)
        #expect(probe.timeoutPassed() == .closeDead)
        #expect(!probe.pingOutstanding)

        #expect(probe.intervalPassed(worthProbing: true) == .ping)
        probe.heardFromPeer()
        #expect(probe.timeoutPassed() == .waitAnotherInterval)
        #expect(!probe.heard)

        #expect(probe.intervalPassed(worthProbing: true) == .ping)
        probe.heardFromPeer()
        let answered = probe.acknowledged()
        #expect(answered)
        #expect(!probe.pingOutstanding && !probe.heard)
        let again = probe.acknowledged()
        #expect(!again)  // An acknowledgement of no keepalive ping (another prober's) changes nothing.
    }
}
