import Testing

@testable import DeadlineRPC

/// The DNS wire format on byte vectors: the query the resolver sends, and answers — well-formed, compressed,
/// aliased, and broken in every way the decoder checks (each a thrown reason, never a trap).
@Suite("DNS messages (byte vectors)")
struct DNSMessageTests {
    /// "orders.test" as labels.
    static let ordersTest: [UInt8] = [6] + Array("orders".utf8) + [4] + Array("test".utf8) + [0]

    @Test("A query: header (id, RD, one question, one additional), the question, and an EDNS0 OPT for 1232 bytes")
    func queryBytes() throws {
        let expected: [UInt8] =
            [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]
            + Self.ordersTest + [0x00, 0x1C, 0x00, 0x01]
            + [0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        #expect(try DNSMessage.query(id: 0x1234, name: "orders.test", type: .aaaa) == expected)
        // One trailing dot is the same name.
        #expect(try DNSMessage.query(id: 0x1234, name: "orders.test.", type: .aaaa) == expected)
    }

    @Test(
        "Names that cannot be asked are refused with the reason",
        arguments: [
            ("", "the name is empty"),
            (".", "the name is empty"),
            ("a..b", "the name has an empty label"),
            (".a", "the name has an empty label"),
            ("a b.test", "the label 'a b' has a character other than letters, digits, '-' and '_'"),
            ("ünï.test", "the label 'ünï' has a character other than letters, digits, '-' and '_'"),
            (String(repeating: "x", count: 64) + ".test", "the label 'xxxxxxxxxxxxxxxx…' is 64 bytes long (at most 63)"),
            (Array(repeating: String(repeating: "y", count: 50), count: 5).joined(separator: ".") + ".abc", "the name is 258 bytes long (at most 253)"),
        ]
    )
    func invalidNames(name: String, reason: String) {
        #expect(throws: DNSMessageError(reason)) { try DNSMessage.query(id: 1, name: name, type: .a) }
    }

    @Test("The longest valid name (253 bytes, 63-byte labels) encodes")
    func longestName() throws {
        let name = Array(repeating: String(repeating: "z", count: 63), count: 4).joined(separator: ".").dropLast(2)
        #expect(name.utf8.count == 253)
        #expect(try DNSMessage.query(id: 1, name: String(name), type: .a).count == 12 + 255 + 4 + 11)
    }

    @Test("An answer with two A records whose owners are compression pointers to the question")
    func twoARecords() throws {
        let bytes: [UInt8] =
            [0xBE, 0xEF, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00]
            + Self.ordersTest + [0x00, 0x01, 0x00, 0x01]
            + [0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 10, 200, 1, 2]
            + [0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 10, 200, 1, 3]
        let message = try DNSMessage.decodeAnswer(bytes)
        #expect(message.id == 0xBEEF)
        #expect(message.responseCode == .noError)
        #expect(message.questionName == "orders.test")
        #expect(message.questionType == 1)
        #expect(try message.addresses(of: "orders.test", type: .a) == [[10, 200, 1, 2], [10, 200, 1, 3]])
        #expect(try message.addresses(of: "orders.test", type: .aaaa) == [])
        // Names compare case-insensitively, with or without the trailing dot.
        #expect(try message.addresses(of: "ORDERS.Test.", type: .a).count == 2)
    }

    @Test("CNAMEs are followed within the answer; the chain's addresses are those of its end")
    func cnameChain() throws {
        var answer = DNSAnswerBuilder(id: 7, questionName: "www.test", questionType: 1)
        answer.records = [
            DNSAnswerBuilder.cname("edge.test"),
            DNSAnswerBuilder.cname("ORDERS.test", name: "edge.test"),
            DNSAnswerBuilder.a(10, 0, 0, 9, name: "other.test"),  // Not on the chain.
            DNSAnswerBuilder.a(10, 0, 0, 1, name: "orders.test"),
            DNSAnswerBuilder.a(10, 0, 0, 2, name: "orders.test"),
        ]
        let message = try DNSMessage.decodeAnswer(answer.bytes)
        #expect(message.answers[1] == .init(name: "edge.test", type: 5, data: .alias("orders.test")))
        #expect(try message.addresses(of: "www.test", type: .a) == [[10, 0, 0, 1], [10, 0, 0, 2]])
    }

    @Test("A CNAME loop is an error, not a hang")
    func cnameLoop() throws {
        var answer = DNSAnswerBuilder(id: 7, questionName: "a.test", questionType: 1)
        answer.records = [DNSAnswerBuilder.cname("b.test"), DNSAnswerBuilder.cname("a.test", name: "b.test")]
        let message = try DNSMessage.decodeAnswer(answer.bytes)
        #expect(throws: DNSMessageError("the answer's CNAMEs loop back to a.test")) {
            try message.addresses(of: "a.test", type: .a)
        }
    }

    @Test("NXDOMAIN and other response codes are read from the header")
    func responseCodes() throws {
        var answer = DNSAnswerBuilder(id: 1, questionName: "nope.test", questionType: 1)
        answer.flags = 0x8183
        #expect(try DNSMessage.decodeAnswer(answer.bytes).responseCode == .noSuchName)
        answer.flags = 0x8182
        #expect(try DNSMessage.decodeAnswer(answer.bytes).responseCode == .other(2))
    }

    @Test("Records of other types and classes are skipped; an unknown type's data is not read")
    func otherRecords() throws {
        var answer = DNSAnswerBuilder(id: 1, questionName: "orders.test", questionType: 1)
        answer.records = [
            .init(name: nil, type: 16, data: [3, 0x61, 0x62, 0x63]),  // TXT
            .init(name: nil, type: 1, data: [1, 2, 3, 4], recordClass: 3),  // Class CH: not an address.
            DNSAnswerBuilder.a(10, 1, 1, 1),
        ]
        #expect(try DNSMessage.decodeAnswer(answer.bytes).addresses(of: "orders.test", type: .a) == [[10, 1, 1, 1]])
    }

    @Test("Broken answers are refused with the reason")
    func brokenAnswers() throws {
        var good = DNSAnswerBuilder(id: 1, questionName: "orders.test", questionType: 1)
        good.records = [DNSAnswerBuilder.a(10, 1, 1, 1)]
        let bytes = good.bytes

        func reason(_ bytes: [UInt8]) -> String? {
            do {
                _ = try DNSMessage.decodeAnswer(bytes)
                return nil
            } catch {
                return error.reason
            }
        }

        #expect(reason(Array(bytes.prefix(11))) == "the answer ends inside the header")
        #expect(reason(Array(bytes.prefix(20))) == "the answer ends inside a name")
        #expect(reason(Array(bytes.prefix(bytes.count - 2))) == "answer record 1 of 1 claims 4 bytes of data, past the end of the answer")
        #expect(reason(Array(bytes.prefix(bytes.count - 6))) == "the answer ends inside answer record 1 of 1")

        var query = good
        query.flags = 0x0100
        #expect(reason(query.bytes) == "the message is a query, not an answer")

        var truncated = good
        truncated.flags |= 0x0200
        #expect(reason(truncated.bytes) == "the answer is truncated (TC set): it does not fit 1232 bytes, and this resolver does not retry over TCP")

        var opcode = good
        opcode.flags |= 2 << 11
        #expect(reason(opcode.bytes) == "the answer has opcode 2, not 0 (QUERY)")

        var twoQuestions = bytes
        twoQuestions[5] = 2
        #expect(reason(twoQuestions) == "the answer has 2 questions, not 1")

        var shortAddress = good
        shortAddress.records = [.init(name: nil, type: 1, data: [10, 1, 1])]
        #expect(reason(shortAddress.bytes) == "answer record 1 of 1 is an address of 3 bytes, not 4")

        var longAddress = good
        longAddress.records = [.init(name: nil, type: 28, data: [UInt8](repeating: 1, count: 4))]
        #expect(reason(longAddress.bytes) == "answer record 1 of 1 is an address of 4 bytes, not 16")

        var aliasTail = good
        aliasTail.records = [.init(name: nil, type: 5, data: DNSAnswerBuilder.encode("x.test") + [0xFF])]
        #expect(reason(aliasTail.bytes) == "answer record 1 of 1 has bytes after its alias")

        #expect(reason(bytes + [UInt8](repeating: 0, count: 1232 - bytes.count)) == nil)  // Trailing bytes are not read.
        #expect(reason(bytes + [UInt8](repeating: 0, count: 1233 - bytes.count)) == "the answer is longer than the 1232 bytes this resolver accepts")
    }

    @Test("Compression pointers: forwards, to themselves, label types 01/10, and a backwards loop are refused")
    func hostilePointers() {
        var good = DNSAnswerBuilder(id: 1, questionName: "orders.test", questionType: 1)
        good.records = [DNSAnswerBuilder.a(10, 1, 1, 1)]
        let recordStart = good.bytes.count - 16

        func reason(_ bytes: [UInt8]) -> String? {
            do {
                _ = try DNSMessage.decodeAnswer(bytes)
                return nil
            } catch {
                return error.reason
            }
        }

        var forwards = good.bytes
        forwards[recordStart + 1] = UInt8(recordStart + 4)
        #expect(reason(forwards) == "a name's compression pointer points forwards (\(recordStart) → \(recordStart + 4))")

        var itself = good.bytes
        itself[recordStart + 1] = UInt8(recordStart)
        #expect(reason(itself) == "a name's compression pointer points forwards (\(recordStart) → \(recordStart))")

        for labelType: UInt8 in [0x40, 0x80] {
            var reserved = good.bytes
            reserved[recordStart] = labelType | 1
            #expect(reason(reserved) == "a name has a label of unknown type 0x\(String(labelType, radix: 16))")
        }

        // A label at 12 followed by a pointer back to 12: each step is backwards, but the name never ends.
        var loop: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]
        loop += [1, 0x61, 0xC0, 0x0C, 0, 1, 0, 1]
        #expect(reason(loop) == "a name in the answer is longer than 255 bytes")
    }

    @Test("Every prefix and 20,000 random mutations of an answer decode or throw, never trap")
    func mutations() {
        var answer = DNSAnswerBuilder(id: 9, questionName: "www.test", questionType: 28)
        answer.records = [DNSAnswerBuilder.cname("orders.test"), DNSAnswerBuilder.aaaa([UInt8](repeating: 7, count: 16), name: "orders.test")]
        let bytes = answer.bytes
        for length in 0...bytes.count {
            if let message = try? DNSMessage.decodeAnswer(Array(bytes.prefix(length))) {
                _ = try? message.addresses(of: "www.test", type: .aaaa)
            }
        }
        var random = SeededGenerator(seed: 16)
        var decoded = 0
        for _ in 0..<20_000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                mutated[Int.random(in: 0..<mutated.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if let message = try? DNSMessage.decodeAnswer(mutated), (try? message.addresses(of: "www.test", type: .aaaa)) != nil {
                decoded += 1
            }
        }
        #expect(decoded > 0, "some mutations (of the TTLs, say) still decode")
    }
}
