import Testing

@testable import DeadlineRPC

/// One resolution's exchange as a pure value: which queries go out, which datagrams count, the retry, the outcome.
@Suite("DNS lookup exchange (pure)")
struct DNSLookupTests {
    /// A lookup of `name` whose ids come from `ids` in order.
    static func lookup(_ name: String = "orders.test", ids: [UInt16]) throws -> DNSLookup {
        let source = IDs(ids)
        return try DNSLookup(name: name) { source.next() }
    }

    /// Hands out fixed ids (a class: the lookup's id closure outlives the call that made it).
    final class IDs {
        private var ids: [UInt16]
        init(_ ids: [UInt16]) { self.ids = ids }
        func next() -> UInt16 { self.ids.removeFirst() }
    }

    static func answer(_ id: UInt16, type: UInt16, _ records: [DNSAnswerBuilder.Record], flags: UInt16 = 0x8180, name: String = "orders.test") -> [UInt8] {
        DNSAnswerBuilder(id: id, flags: flags, questionName: name, questionType: type, records: records).bytes
    }

    static let v6: [UInt8] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]

    @Test("start() sends an A and an AAAA query with the next two ids")
    func start() throws {
        var lookup = try Self.lookup(ids: [10, 11])
        #expect(try lookup.start() == [
            DNSMessage.query(id: 10, name: "orders.test", type: .a), DNSMessage.query(id: 11, name: "orders.test", type: .aaaa),
        ])
    }

    @Test("Both answers in: IPv4 first, then IPv6, each in the answer's order, duplicates dropped")
    func bothAnswers() throws {
        var lookup = try Self.lookup(ids: [10, 11])
        _ = lookup.start()
        #expect(lookup.received(Self.answer(11, type: 28, [DNSAnswerBuilder.aaaa(Self.v6)])) == .wait)
        let a = Self.answer(10, type: 1, [DNSAnswerBuilder.a(10, 0, 0, 3), DNSAnswerBuilder.a(10, 0, 0, 2), DNSAnswerBuilder.a(10, 0, 0, 3)])
        #expect(lookup.received(a) == .finish(.addresses(["10.0.0.3", "10.0.0.2", "fd00::1"])))
        // Anything after the end is ignored.
        #expect(lookup.received(a) == .ignore)
    }

    @Test("A datagram with another id is ignored, even garbage; one with an answered query's id too")
    func otherIDs() throws {
        var lookup = try Self.lookup(ids: [10, 11])
        _ = lookup.start()
        #expect(lookup.received(Self.answer(99, type: 1, [DNSAnswerBuilder.a(6, 6, 6, 6)])) == .ignore)
        #expect(lookup.received([0x00, 0x63, 0xFF]) == .ignore)
        #expect(lookup.received(Self.answer(10, type: 1, [DNSAnswerBuilder.a(10, 0, 0, 1)])) == .wait)
        #expect(lookup.received(Self.answer(10, type: 1, [DNSAnswerBuilder.a(6, 6, 6, 6)])) == .ignore)
        #expect(lookup.received(Self.answer(11, type: 28, [])) == .finish(.addresses(["10.0.0.1"])))
    }

    @Test("NXDOMAIN for either query ends the lookup with 'no such name'")
    func noSuchName() throws {
        var lookup = try Self.lookup(ids: [10, 11])
        _ = lookup.start()
        #expect(lookup.received(Self.answer(11, type: 28, [], flags: 0x8183)) == .finish(.failure("no such name")))
    }

    @Test("A name with neither A nor AAAA records fails with 'no IPv4 or IPv6 address'")
    func noData() throws {
        var lookup = try Self.lookup(ids: [10, 11])
        _ = lookup.start()
        #expect(lookup.received(Self.answer(10, type: 1, [])) == .wait)
        #expect(lookup.received(Self.answer(11, type: 28, [])) == .finish(.failure("no IPv4 or IPv6 address")))
    }

    @Test("A timeout resends only the unanswered query, with a new id; a late answer to the old id still counts")
    func retry() throws {
        var lookup = try Self.lookup(ids: [10, 11, 12])
        _ = lookup.start()
        #expect(lookup.received(Self.answer(10, type: 1, [DNSAnswerBuilder.a(10, 0, 0, 1)])) == .wait)
        #expect(try lookup.timedOut() == .resend([DNSMessage.query(id: 12, name: "orders.test", type: .aaaa)]))
        #expect(lookup.received(Self.answer(11, type: 28, [DNSAnswerBuilder.aaaa(Self.v6)])) == .finish(.addresses(["10.0.0.1", "fd00::1"])))
    }

    @Test("The second timeout ends the lookup: one retry, no more")
    func secondTimeout() throws {
        var lookup = try Self.lookup(ids: [10, 11, 12, 13])
        #expect(lookup.start().count == 2)
        guard case .resend(let queries) = lookup.timedOut() else {
            Issue.record("expected a resend")
            return
        }
        #expect(queries.count == 2)
        #expect(lookup.timedOut() == .finish(.failure("no answer from the DNS server after 2 attempts")))
    }

    @Test("A repeated id from the generator is skipped: the two queries never share one")
    func distinctIDs() throws {
        var lookup = try Self.lookup(ids: [5, 5, 5, 6, 5, 7, 6, 8])
        let queries = lookup.start()
        #expect(queries.map { UInt16($0[0]) << 8 | UInt16($0[1]) } == [5, 6])
        guard case .resend(let again) = lookup.timedOut() else {
            Issue.record("expected a resend")
            return
        }
        // Nor does a retry reuse an id of the first attempt.
        #expect(again.map { UInt16($0[0]) << 8 | UInt16($0[1]) } == [7, 8])
    }

    @Test("A malformed answer with a matching id, or one to another question, ends the lookup with the reason")
    func malformed() throws {
        var truncated = try Self.lookup(ids: [10, 11])
        _ = truncated.start()
        #expect(truncated.received(Self.answer(10, type: 1, [], flags: 0x8380)) == .finish(.failure(
            "malformed answer: the answer is truncated (TC set): it does not fit 1232 bytes, and this resolver does not retry over TCP")))

        var short = try Self.lookup(ids: [10, 11])
        _ = short.start()
        #expect(short.received([0x00]) == .finish(.failure("malformed answer: 1 bytes, shorter than a DNS header")))

        var otherName = try Self.lookup(ids: [10, 11])
        _ = otherName.start()
        #expect(otherName.received(Self.answer(10, type: 1, [DNSAnswerBuilder.a(6, 6, 6, 6)], name: "evil.test")) == .finish(.failure(
            "malformed answer: it answers evil.test type 1, not orders.test type 1")))

        var otherType = try Self.lookup(ids: [10, 11])
        _ = otherType.start()
        #expect(otherType.received(Self.answer(10, type: 28, [])) == .finish(.failure(
            "malformed answer: it answers orders.test type 28, not orders.test type 1")))
    }

    @Test("SERVFAIL and REFUSED end the lookup naming the code")
    func serverErrors() throws {
        for (flags, name) in [(UInt16(0x8182), "SERVFAIL"), (0x8185, "REFUSED"), (0x8189, "response code 9")] {
            var lookup = try Self.lookup(ids: [10, 11])
            _ = lookup.start()
            #expect(lookup.received(Self.answer(10, type: 1, [], flags: flags)) == .finish(.failure("the DNS server answered \(name)")))
        }
    }

    @Test("A name that cannot be asked is refused before anything is sent")
    func invalidName() {
        #expect(throws: DNSMessageError("the name has an empty label")) { try Self.lookup("a..test", ids: []) }
    }
}
