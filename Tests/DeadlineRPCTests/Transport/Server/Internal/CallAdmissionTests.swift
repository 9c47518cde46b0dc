import Testing
import Wire

@testable import DeadlineRPC

/// Call admission as a pure value: each refusal in its §9.3 order, and the deadline anchored at arrival.
@Suite("CallAdmission")
struct CallAdmissionTests {
    static let now: Int64 = 1_000_000_000

    static func start(budget: WireBudget? = nil, encoding: MessageEncoding = .identity) -> CallStart {
        CallStart(streamID: 1, method: "/echo", budget: budget, hopCount: 0, encoding: encoding, metadata: Metadata())
    }

    static func reason(_ decision: CallAdmission.Decision) -> CallAdmission.Refusal? {
        if case .refuse(let reason, _, _) = decision { return reason }
        return nil
    }

    let admission = CallAdmission(maxConcurrentStreams: 2, maxInboundBudget: nil, minimumBudget: .zero)

    func decide(
        _ start: CallStart = Self.start(),
        with admission: CallAdmission? = nil,
        draining: Bool = false,
        peerSentGoAway: Bool = false,
        openCalls: Int = 0,
        methodIsKnown: Bool = true
    ) -> CallAdmission.Decision {
        (admission ?? self.admission).decide(
            start,
            draining: draining,
            peerSentGoAway: peerSentGoAway,
            openCalls: openCalls,
            methodIsKnown: methodIsKnown,
            now: Self.now
        )
    }

    @Test("Refusals come in order: draining, the peer's GOAWAY, the stream limit, the method, the encoding, the budget")
    func order() {
        let spent = Self.start(budget: WireBudget(remainingMicroseconds: 0, originalMicroseconds: 0), encoding: MessageEncoding(rawValue: 200))
        #expect(Self.reason(self.decide(spent, draining: true, peerSentGoAway: true, openCalls: 2, methodIsKnown: false)) == .draining)
        #expect(Self.reason(self.decide(spent, peerSentGoAway: true, openCalls: 2, methodIsKnown: false)) == .peerWentAway)
        #expect(Self.reason(self.decide(spent, openCalls: 2, methodIsKnown: false)) == .streamLimit)
        #expect(Self.reason(self.decide(spent, openCalls: 1, methodIsKnown: false)) == .unknownMethod)
        #expect(Self.reason(self.decide(spent)) == .unsupportedEncoding)
        #expect(Self.reason(self.decide(Self.start(budget: WireBudget(remainingMicroseconds: 0, originalMicroseconds: 0)))) == .budgetTooSmall)
    }

    @Test("Each refusal carries its status code")
    func codes() {
        #expect(self.decide(draining: true) == .refuse(.draining, code: .unavailable, message: "The server is shutting down and accepts no new calls on this connection."))
        #expect(self.decide(peerSentGoAway: true) == .refuse(.peerWentAway, code: .unavailable, message: "The client sent GOAWAY; no new call starts on this connection."))
        guard case .refuse(_, let limitCode, _) = self.decide(openCalls: 2) else { Issue.record("not refused"); return }
        #expect(limitCode == .resourceExhausted)
        guard case .refuse(_, let methodCode, _) = self.decide(methodIsKnown: false) else { Issue.record("not refused"); return }
        #expect(methodCode == .unimplemented)
        guard case .refuse(_, let budgetCode, _) = self.decide(Self.start(budget: WireBudget(remainingMicroseconds: -5, originalMicroseconds: 0)))
        else { Issue.record("not refused"); return }
        #expect(budgetCode == .deadlineExceeded)
    }

    @Test("A budget becomes a deadline anchored at arrival, with the original budget when sent")
    func anchored() {
        let decision = self.decide(Self.start(budget: WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: 1_000_000)))
        #expect(decision == .accept(deadline: Deadline(uptimeNanoseconds: Self.now) + .milliseconds(250), originalBudget: .seconds(1)))
        let noOriginal = self.decide(Self.start(budget: WireBudget(remainingMicroseconds: 250_000, originalMicroseconds: 0)))
        #expect(noOriginal == .accept(deadline: Deadline(uptimeNanoseconds: Self.now) + .milliseconds(250), originalBudget: nil))
    }

    @Test("No budget and no cap: no deadline")
    func noDeadline() {
        #expect(self.decide() == .accept(deadline: nil, originalBudget: nil))
    }

    @Test("The cap bounds a longer budget and gives a call without one a deadline")
    func cap() {
        let capped = CallAdmission(maxConcurrentStreams: 2, maxInboundBudget: .seconds(1), minimumBudget: .zero)
        let long = self.decide(Self.start(budget: WireBudget(remainingMicroseconds: 60_000_000, originalMicroseconds: 0)), with: capped)
        #expect(long == .accept(deadline: Deadline(uptimeNanoseconds: Self.now) + .seconds(1), originalBudget: nil))
        #expect(self.decide(with: capped) == .accept(deadline: Deadline(uptimeNanoseconds: Self.now) + .seconds(1), originalBudget: nil))
    }

    @Test("A budget below the minimum is shed; one at the minimum is accepted")
    func minimum() {
        let strict = CallAdmission(maxConcurrentStreams: 2, maxInboundBudget: nil, minimumBudget: .milliseconds(10))
        let below = self.decide(Self.start(budget: WireBudget(remainingMicroseconds: 9_999, originalMicroseconds: 0)), with: strict)
        #expect(Self.reason(below) == .budgetTooSmall)
        let at = self.decide(Self.start(budget: WireBudget(remainingMicroseconds: 10_000, originalMicroseconds: 0)), with: strict)
        #expect(at == .accept(deadline: Deadline(uptimeNanoseconds: Self.now) + .milliseconds(10), originalBudget: nil))
    }
}
