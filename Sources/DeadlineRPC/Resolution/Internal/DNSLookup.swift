import NIOCore

/// One ``DNSResolver`` resolution as a pure value: the A and AAAA queries, which ids are outstanding, the answers
/// in so far, one resend of what is unanswered after a timeout, and the outcome. The resolver does the I/O the
/// returned actions name; tests drive it with byte vectors.
///
/// ```
///   start() ──► queries sent ──datagram──► answered? ──both──► finish(addresses | failure)
///                    │                         │
///                    └──timedOut()──► resend unanswered (new ids; old ids still accepted) ──timedOut()──► finish(failure)
/// ```
struct DNSLookup {
    /// How a lookup ended.
    enum Outcome: Equatable {
        /// The name's addresses as IP literals: the A records' first, then the AAAA records', each in the
        /// answer's order, duplicates dropped.
        case addresses([String])
        /// The reason it failed, for ``ResolutionError/reason``.
        case failure(String)
    }

    /// What to do with a datagram.
    enum OnDatagram: Equatable {
        /// Not an answer to an outstanding query (another id): drop it and keep waiting.
        case ignore
        /// An answer; others are still outstanding.
        case wait
        /// The lookup is over.
        case finish(Outcome)
    }

    /// What to do when an attempt's timer fires.
    enum OnTimeout: Equatable {
        /// Send these queries (the unanswered ones, with new ids) and start the timer again.
        case resend([[UInt8]])
        /// The lookup is over.
        case finish(Outcome)
    }

    /// The reason for NXDOMAIN.
    static let noSuchName = "no such name"

    private struct Query {
        var type: DNSMessage.RecordType
        /// Every id this query was sent with (one per attempt): a late answer to an earlier attempt counts.
        var ids: [UInt16] = []
        var addresses: [[UInt8]]?
    }

    private let name: String
    private let attempts: Int
    private var nextID: () -> UInt16
    private var queries: [Query] = [Query(type: .a), Query(type: .aaaa)]
    private var attempt = 0
    private var finished = false

    /// A lookup of `name` (validated here: throws the reason for a name that cannot be asked) making at most
    /// `attempts` attempts, taking ids from `nextID` (random in the resolver, fixed in tests).
    init(name: String, attempts: Int = 2, nextID: @escaping () -> UInt16) throws(DNSMessageError) {
        _ = try DNSMessage.validate(name)
        self.name = DNSMessage.canonical(name)
        self.attempts = attempts
        self.nextID = nextID
    }

    /// The first attempt's queries.
    mutating func start() -> [[UInt8]] {
        self.attempt = 1
        return self.queriesForUnanswered()
    }

    /// A datagram from the server.
    mutating func received(_ bytes: [UInt8]) -> OnDatagram {
        guard !self.finished else { return .ignore }
        // Read the id alone first: a stray datagram for another id is dropped even if it is garbage.
        guard bytes.count >= 2 else { return self.finish(.failure("malformed answer: \(bytes.count) bytes, shorter than a DNS header")) }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard let index = self.queries.firstIndex(where: { $0.addresses == nil && $0.ids.contains(id) }) else { return .ignore }
        let type = self.queries[index].type
        let message: DNSMessage
        let addresses: [[UInt8]]
        do {
            message = try DNSMessage.decodeAnswer(bytes)
            guard message.questionName == self.name, message.questionType == type.rawValue else {
                return self.finish(.failure("malformed answer: it answers \(message.questionName) type \(message.questionType), not \(self.name) type \(type.rawValue)"))
            }
            addresses = try message.addresses(of: self.name, type: type)
        } catch {
            return self.finish(.failure("malformed answer: \(error.reason)"))
        }
        switch message.responseCode {
        case .noError:
            self.queries[index].addresses = addresses
        case .noSuchName:
            return self.finish(.failure(Self.noSuchName))
        case .other(let code):
            return self.finish(.failure("the DNS server answered \(Self.responseCodeName(code))"))
        }
        guard self.queries.allSatisfy({ $0.addresses != nil }) else { return .wait }
        return self.finish(self.outcome())
    }

    /// The current attempt's timer fired.
    mutating func timedOut() -> OnTimeout {
        guard !self.finished else { return .finish(.failure("finished")) }
        guard self.attempt < self.attempts else {
            self.finished = true
            return .finish(.failure("no answer from the DNS server after \(self.attempts) attempts"))
        }
        self.attempt += 1
        return .resend(self.queriesForUnanswered())
    }

    private mutating func queriesForUnanswered() -> [[UInt8]] {
        var queries: [[UInt8]] = []
        for index in self.queries.indices where self.queries[index].addresses == nil {
            var id = self.nextID()
            while self.queries.contains(where: { $0.ids.contains(id) }) { id = self.nextID() }
            self.queries[index].ids.append(id)
            // The name was validated in init, so encoding cannot fail.
            if let query = try? DNSMessage.query(id: id, name: self.name, type: self.queries[index].type) {
                queries.append(query)
            }
        }
        return queries
    }

    private mutating func finish(_ outcome: Outcome) -> OnDatagram {
        self.finished = true
        return .finish(outcome)
    }

    private func outcome() -> Outcome {
        var literals: [String] = []
        for query in self.queries {
            for bytes in query.addresses ?? [] {
                // 4 or 16 bytes, checked by the decoder, so the address always parses.
                guard let address = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: bytes), port: 0),
                    let literal = address.ipAddress
                else { continue }
                if !literals.contains(literal) { literals.append(literal) }
            }
        }
        return literals.isEmpty ? .failure("no IPv4 or IPv6 address") : .addresses(literals)
    }

    private static func responseCodeName(_ code: UInt8) -> String {
        switch code {
        case 1: return "FORMERR (it could not read the query)"
        case 2: return "SERVFAIL"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        default: return "response code \(code)"
        }
    }
}
