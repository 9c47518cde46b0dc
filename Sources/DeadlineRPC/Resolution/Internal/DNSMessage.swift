/// The DNS wire format (RFC 1035, with an EDNS0 OPT record from RFC 6891) for the two messages ``DNSResolver``
/// exchanges: a query for one name and one record type, and the answer to it. Bytes in, values out, no sockets.
///
/// Decoding trusts nothing: every length and compression pointer is checked against the message, pointers may
/// only point backwards (so they cannot loop), and anything that does not add up is a ``DNSMessageError`` with
/// the reason — never a trap.
struct DNSMessage: Equatable {
    /// The record types the resolver reads.
    enum RecordType: UInt16 {
        /// An IPv4 address.
        case a = 1
        /// An alias: the name's records are those of another name.
        case cname = 5
        /// An IPv6 address.
        case aaaa = 28
    }

    /// The header's response codes the resolver tells apart.
    enum ResponseCode: Equatable {
        /// NOERROR: the name exists (it may still have no record of the type asked).
        case noError
        /// NXDOMAIN: the name does not exist.
        case noSuchName
        /// Anything else (SERVFAIL, REFUSED, …), by number.
        case other(UInt8)
    }

    /// One resource record of the answer section.
    struct Record: Equatable {
        /// The owner name, lower-cased, without the trailing dot.
        var name: String
        /// The record type's number.
        var type: UInt16
        /// An address (4 or 16 bytes) for A and AAAA, the target name for CNAME, empty otherwise.
        var data: Data

        /// What a record holds.
        enum Data: Equatable {
            /// An A (4 bytes) or AAAA (16 bytes) address.
            case address([UInt8])
            /// A CNAME's target, lower-cased.
            case alias(String)
            /// A type the resolver does not read.
            case other
        }
    }

    /// The largest answer accepted, advertised to the server as the EDNS0 UDP payload size: the size that the 2020
    /// DNS flag day recommends (it avoids IP fragmentation), and about 70 A records.
    static let maximumSize = 1232

    /// The query's id, which the answer repeats.
    var id: UInt16
    /// The response code.
    var responseCode: ResponseCode
    /// The name asked, lower-cased, without the trailing dot.
    var questionName: String
    /// The type asked.
    var questionType: UInt16
    /// The answer section, in the server's order.
    var answers: [Record]

    /// The query for `name`'s records of `type`, recursion desired, with an EDNS0 OPT record advertising
    /// ``maximumSize``. `name` must be a valid host name (see ``validate(_:)``).
    static func query(id: UInt16, name: String, type: RecordType) throws(DNSMessageError) -> [UInt8] {
        let labels = try Self.validate(name)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + name.utf8.count + 2 + 4 + 11)
        bytes.appendUInt16(id)
        bytes.appendUInt16(0x0100)  // A standard query, recursion desired.
        bytes.appendUInt16(1)  // One question,
        bytes.appendUInt16(0)  // no answers,
        bytes.appendUInt16(0)  // no authority records,
        bytes.appendUInt16(1)  // one additional record (OPT).
        for label in labels {
            bytes.append(UInt8(label.utf8.count))
            bytes.append(contentsOf: label.utf8)
        }
        bytes.append(0)
        bytes.appendUInt16(type.rawValue)
        bytes.appendUInt16(1)  // Class IN.
        // OPT: root owner, type 41, class = our UDP payload size, extended rcode/version/flags 0, no options.
        bytes.append(0)
        bytes.appendUInt16(41)
        bytes.appendUInt16(UInt16(Self.maximumSize))
        bytes.append(contentsOf: [0, 0, 0, 0, 0, 0])
        return bytes
    }

    /// `name`'s labels: a host name of letters, digits, `-` and `_`, labels of 1 to 63 bytes, at most 253 bytes in
    /// all; one trailing dot is allowed (and dropped). Throws the reason otherwise.
    static func validate(_ name: String) throws(DNSMessageError) -> [Substring] {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty else { throw DNSMessageError("the name is empty") }
        guard text.utf8.count <= 253 else {
            throw DNSMessageError("the name is \(text.utf8.count) bytes long (at most 253)")
        }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty else { throw DNSMessageError("the name has an empty label") }
            guard label.utf8.count <= 63 else {
                throw DNSMessageError("the label '\(label.prefix(16))…' is \(label.utf8.count) bytes long (at most 63)")
            }
            guard label.utf8.allSatisfy(Self.isHostNameByte) else {
                throw DNSMessageError("the label '\(label)' has a character other than letters, digits, '-' and '_'")
            }
        }
        return labels
    }

    /// Decodes an answer: header, the one question, and the answer section (the authority and additional sections
    /// are not read). Throws when the message is a query, truncated (TC), longer than ``maximumSize``, or
    /// malformed anywhere in what is read.
    static func decodeAnswer(_ bytes: [UInt8]) throws(DNSMessageError) -> DNSMessage {
        guard bytes.count <= Self.maximumSize else {
            throw DNSMessageError("the answer is longer than the \(Self.maximumSize) bytes this resolver accepts")
        }
        var reader = Reader(bytes: bytes)
        let id = try reader.uint16("the header")
        let flags = try reader.uint16("the header")
        let questions = try reader.uint16("the header")
        let answerCount = try reader.uint16("the header")
        _ = try reader.uint16("the header")
        _ = try reader.uint16("the header")
        guard flags & 0x8000 != 0 else { throw DNSMessageError("the message is a query, not an answer") }
        guard (flags >> 11) & 0xF == 0 else { throw DNSMessageError("the answer has opcode \((flags >> 11) & 0xF), not 0 (QUERY)") }
        guard flags & 0x0200 == 0 else {
            throw DNSMessageError("the answer is truncated (TC set): it does not fit \(Self.maximumSize) bytes, and this resolver does not retry over TCP")
        }
        guard questions == 1 else { throw DNSMessageError("the answer has \(questions) questions, not 1") }
        let questionName = try reader.name()
        let questionType = try reader.uint16("the question")
        _ = try reader.uint16("the question")
        var answers: [Record] = []
        for index in 0..<Int(answerCount) {
            let context = "answer record \(index + 1) of \(answerCount)"
            let name = try reader.name()
            let type = try reader.uint16(context)
            let recordClass = try reader.uint16(context)
            _ = try reader.uint32(context)  // The TTL: ignored (the client refreshes on its own interval).
            let length = Int(try reader.uint16(context))
            let start = reader.offset
            guard start + length <= bytes.count else {
                throw DNSMessageError("\(context) claims \(length) bytes of data, past the end of the answer")
            }
            var data = Record.Data.other
            if recordClass == 1 {
                switch RecordType(rawValue: type) {
                case .a, .aaaa:
                    let expected = type == RecordType.a.rawValue ? 4 : 16
                    guard length == expected else {
                        throw DNSMessageError("\(context) is an address of \(length) bytes, not \(expected)")
                    }
                    data = .address(Array(bytes[start..<start + length]))
                case .cname:
                    var target = Reader(bytes: bytes, offset: start, limit: start + length)
                    data = .alias(try target.name())
                    guard target.offset == start + length else {
                        throw DNSMessageError("\(context) has bytes after its alias")
                    }
                case nil:
                    break
                }
            }
            reader.offset = start + length
            answers.append(Record(name: name, type: type, data: data))
        }
        let code: ResponseCode
        switch flags & 0xF {
        case 0: code = .noError
        case 3: code = .noSuchName
        default: code = .other(UInt8(flags & 0xF))
        }
        return DNSMessage(id: id, responseCode: code, questionName: questionName, questionType: questionType, answers: answers)
    }

    /// The addresses of `type` the answer holds for `name`, following CNAMEs from `name` through the answer (a
    /// chain that leaves the answer ends there); in the answer's order. Throws on a CNAME loop.
    func addresses(of name: String, type: RecordType) throws(DNSMessageError) -> [[UInt8]] {
        var current = Self.canonical(name)
        var visited: Set<String> = []
        var addresses: [[UInt8]] = []
        while visited.insert(current).inserted {
            var next: String?
            for record in self.answers where record.name == current {
                switch record.data {
                case .address(let bytes) where record.type == type.rawValue:
                    addresses.append(bytes)
                case .alias(let target) where record.type == RecordType.cname.rawValue:
                    next = target
                default:
                    break
                }
            }
            guard let next else { return addresses }
            current = next
        }
        throw DNSMessageError("the answer's CNAMEs loop back to \(current)")
    }

    /// `name` as the decoder spells names: lower-cased (ASCII), without the trailing dot.
    static func canonical(_ name: String) -> String {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        return String(decoding: text.utf8.map(Self.lowercased), as: UTF8.self)
    }

    private static func isHostNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    fileprivate static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}

/// A DNS message that cannot be built or read, with the reason.
struct DNSMessageError: Error, Equatable, CustomStringConvertible {
    /// What is wrong.
    var reason: String

    init(_ reason: String) {
        self.reason = reason
    }

    var description: String { self.reason }
}

/// A bounds-checked cursor over a message.
private struct Reader {
    let bytes: [UInt8]
    var offset: Int
    /// Where this reader's region ends (a record's data, or the message).
    let limit: Int

    init(bytes: [UInt8], offset: Int = 0, limit: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.limit = limit ?? bytes.count
    }

    mutating func uint16(_ context: @autoclosure () -> String) throws(DNSMessageError) -> UInt16 {
        guard self.offset + 2 <= self.limit else { throw DNSMessageError("the answer ends inside \(context())") }
        defer { self.offset += 2 }
        return UInt16(self.bytes[self.offset]) << 8 | UInt16(self.bytes[self.offset + 1])
    }

    mutating func uint32(_ context: @autoclosure () -> String) throws(DNSMessageError) -> UInt32 {
        let high = try self.uint16(context())
        let low = try self.uint16(context())
        return UInt32(high) << 16 | UInt32(low)
    }

    /// A possibly compressed name, lower-cased, without the trailing dot (the root is ""). Compression pointers
    /// may point anywhere before the label they replace (never forwards, so they cannot loop) but never past the
    /// message; the name may be at most 255 bytes on the wire.
    mutating func name() throws(DNSMessageError) -> String {
        var labels: [String] = []
        var wireLength = 1
        var position = self.offset
        var limit = self.limit
        var resumeAt: Int?  // Where this reader continues once a pointer was followed.
        while true {
            guard position < limit else { throw DNSMessageError("the answer ends inside a name") }
            let length = Int(self.bytes[position])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    self.offset = resumeAt ?? position + 1
                    return labels.joined(separator: ".")
                }
                guard position + 1 + length <= limit else { throw DNSMessageError("the answer ends inside a name") }
                wireLength += length + 1
                guard wireLength <= 255 else { throw DNSMessageError("a name in the answer is longer than 255 bytes") }
                let label = self.bytes[(position + 1)..<(position + 1 + length)].map(DNSMessage.lowercased)
                labels.append(String(decoding: label, as: UTF8.self))
                position += 1 + length
            case 0xC0:
                guard position + 2 <= limit else { throw DNSMessageError("the answer ends inside a name") }
                let target = (length & 0x3F) << 8 | Int(self.bytes[position + 1])
                guard target < position else {
                    throw DNSMessageError("a name's compression pointer points forwards (\(position) → \(target))")
                }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
                limit = self.bytes.count  // A pointer may reach outside a record's data, into the message.
            default:
                throw DNSMessageError("a name has a label of unknown type 0x\(String(length & 0xC0, radix: 16))")
            }
        }
    }
}

extension [UInt8] {
    fileprivate mutating func appendUInt16(_ value: UInt16) {
        self.append(UInt8(value >> 8))
        self.append(UInt8(value & 0xFF))
    }
}
