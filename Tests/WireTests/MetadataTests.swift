import NIOCore
import Testing

@testable import Wire

@Suite("Metadata: the API, sender-side validation, and the decoder's rules", .timeLimit(.minutes(5)))
struct MetadataTests {
    // MARK: API

    @Test("add keeps duplicates, in order")
    func addKeepsDuplicates() {
        var metadata = Metadata()
        metadata.add("1", forKey: "a")
        metadata.add("x", forKey: "b")
        metadata.add("2", forKey: "a")
        metadata.add([9], forKey: "a-bin")
        metadata.add(.string("3"), forKey: "a")
        #expect(metadata.count == 5)
        #expect(metadata.values(forKey: "a") == [.string("1"), .string("2"), .string("3")])
        #expect(metadata.first(forKey: "a") == "1")
        #expect(metadata.values(forKey: "a-bin") == [.binary([9])])
        #expect(metadata.map(\.key) == ["a", "b", "a", "a-bin", "a"])
    }

    @Test("insert adds an absent key and throws MetadataCollision on an existing one, leaving the metadata unchanged")
    func insertRefusesCollision() throws {
        var metadata: Metadata = ["a": "1"]
        try metadata.insert("2", forKey: "b")
        #expect(metadata == ["a": "1", "b": "2"])
        #expect(throws: MetadataCollision(key: "a")) { try metadata.insert("3", forKey: "a") }
        #expect(throws: MetadataCollision(key: "b")) { try metadata.insert(.binary([1]), forKey: "b") }
        #expect(metadata == ["a": "1", "b": "2"])
        #expect(MetadataCollision(key: "a").description.contains("'a'"))
    }

    @Test("replace removes every value for the key and appends the new one")
    func replaceOverwrites() {
        var metadata: Metadata = ["a": "1", "b": "2", "a": "3"]
        metadata.replace("new", forKey: "a")
        #expect(metadata == ["b": "2", "a": "new"])
        metadata.replace("c", forKey: "c")  // an absent key is simply added
        #expect(metadata == ["b": "2", "a": "new", "c": "c"])
    }

    @Test("removeAll and contains")
    func removeAll() {
        var metadata: Metadata = ["a": "1", "b": "2", "a": "3"]
        #expect(metadata.contains(key: "a"))
        metadata.removeAll(forKey: "a")
        #expect(!metadata.contains(key: "a"))
        #expect(metadata == ["b": "2"])
        metadata.removeAll(forKey: "zzz")
        #expect(metadata.count == 1)
        #expect(!Metadata().contains(key: "a"))
        #expect(Metadata().isEmpty)
    }

    @Test("first(forKey:) returns the first text value and skips binary ones")
    func firstSkipsBinary() {
        var metadata = Metadata()
        metadata.add([1, 2], forKey: "k")
        #expect(metadata.first(forKey: "k") == nil)
        metadata.add("text", forKey: "k")
        #expect(metadata.first(forKey: "k") == "text")
        #expect(metadata.first(forKey: "missing") == nil)
    }

    @Test("equality and hashing are ordered, by key and value")
    func equalityIsOrdered() {
        let ab: Metadata = ["a": "1", "b": "2"]
        #expect(ab == ["a": "1", "b": "2"])
        #expect(ab.hashValue == (["a": "1", "b": "2"] as Metadata).hashValue)
        #expect(ab != ["b": "2", "a": "1"])
        #expect(ab != ["a": "1"])
        #expect(ab != ["a": "1", "b": "3"])
        #expect(ab != ["a": "1", "b": "2", "b": "2"])
        #expect((["k-bin": .binary([1])] as Metadata) != ["k-bin": .string("\u{1}")])
        #expect(Set([ab, ["a": "1", "b": "2"], ["b": "2", "a": "1"]]).count == 2)
    }

    @Test("the dictionary literal keeps order and duplicates")
    func dictionaryLiteral() {
        let metadata: Metadata = ["z": "1", "a": "2", "z": "3"]
        #expect(metadata.map(\.key) == ["z", "a", "z"])
        #expect(metadata.map(\.value) == [.string("1"), .string("2"), .string("3")])
        #expect(metadata.description == "[z: 1, a: 2, z: 3]")
    }

    @Test("a binary value prints as two hex digits per byte, so different bytes never print alike")
    func binaryDescription() {
        #expect(Metadata.Value.binary([0x01, 0x23, 0xAB, 0x00]).description == "0123ab00")
        #expect(Metadata.Value.binary([0x12, 0x03]).description != Metadata.Value.binary([0x01, 0x23]).description)
        #expect(Metadata.Value.binary([]).description == "")
        #expect((["k-bin": .binary([0x0F, 0xF0])] as Metadata).description == "[k-bin: 0ff0]")
    }

    // MARK: Sender-side validation

    static let badKeys: [String] = ["", "Tenant", "TENANT", "a\rb", "a\nb", "a\u{0}b", "a b", "a:b", "a/b", "é", "key\t", String(repeating: "k", count: 256)]

    @Test("validate refuses keys that break the syntax", arguments: badKeys)
    func validateBadKey(key: String) {
        let error = Metadata.validate(key: key, value: "v")
        #expect(error?.code == .invalidMetadataKey)
        #expect(error?.statusCode == .invalidArgument)
        #expect(([key: "v"] as Metadata).validate()?.code == .invalidMetadataKey)
    }

    @Test("validate accepts lowercase tokens of 1 to 255 bytes", arguments: ["a", "x-request-id", "a.b_c-d", "0123456789", String(repeating: "k", count: 255), "drpc", "drpcx", "x-drpc-y"])
    func validateGoodKey(key: String) {
        #expect(Metadata.validate(key: key, value: "v") == nil)
    }

    @Test("validate refuses the reserved prefix unless the runtime allows it")
    func validateReservedPrefix() {
        let error = Metadata.validate(key: "drpc-x", value: "v")
        #expect(error?.code == .reservedMetadataKey)
        #expect(error?.statusCode == .invalidArgument)
        #expect(Metadata.validate(key: "drpc-x", value: "v", allowReserved: true) == nil)
        #expect((["ok": "1", "drpc-x": "2"] as Metadata).validate()?.code == .reservedMetadataKey)
        #expect((["ok": "1", "drpc-x": "2"] as Metadata).validate(allowReserved: true) == nil)
        // Key syntax is still checked for the runtime's own keys.
        #expect(Metadata.validate(key: "drpc-X", value: "v", allowReserved: true)?.code == .invalidMetadataKey)
    }

    @Test("validate refuses values outside printable ASCII", arguments: ["a\r", "\n", "\u{0}", "\u{7F}", "tab\there", "é", "🚀"])
    func validateNonPrintableValue(value: String) {
        #expect(Metadata.validate(key: "k", value: .string(value))?.code == .invalidMetadataValue)
    }

    @Test("validate accepts every printable ASCII byte and the empty value")
    func validatePrintable() {
        let everyPrintable = String(decoding: (0x20...0x7E).map { UInt8($0) }, as: UTF8.self)
        #expect(Metadata.validate(key: "k", value: .string(everyPrintable)) == nil)
        #expect(Metadata.validate(key: "k", value: "") == nil)
    }

    @Test("binary values need a -bin key, and -bin keys need binary values")
    func validateBinary() {
        #expect(Metadata.validate(key: "trace", value: .binary([1, 2]))?.code == .invalidMetadataValue)
        #expect(Metadata.validate(key: "trace-bin", value: "text")?.code == .invalidMetadataValue)
        #expect(Metadata.validate(key: "trace-bin", value: .binary((0...255).map { UInt8($0) })) == nil)
        #expect(Metadata.validate(key: "trace-bin", value: .binary([])) == nil)
    }

    @Test("values longer than 65535 bytes are refused; 65535 is accepted")
    func validateValueLength() {
        #expect(Metadata.validate(key: "k", value: .string(String(repeating: "v", count: 65_535))) == nil)
        #expect(Metadata.validate(key: "k", value: .string(String(repeating: "v", count: 65_536)))?.code == .invalidMetadataValue)
        #expect(Metadata.validate(key: "k-bin", value: .binary(Array(repeating: 0, count: 65_535))) == nil)
        #expect(Metadata.validate(key: "k-bin", value: .binary(Array(repeating: 0, count: 65_536)))?.code == .invalidMetadataValue)
    }

    @Test("validate returns the first violation, in order")
    func validateFirstViolation() {
        let metadata: Metadata = ["ok": "1", "Bad": "2", "drpc-x": "3"]
        #expect(metadata.validate()?.code == .invalidMetadataKey)
        #expect((["ok": "1"] as Metadata).validate() == nil)
    }

    // MARK: On the wire: each bad entry ends only its call

    /// A CALL_START and a CALL_END carrying `metadata` as the encoder writes it (the encoder does not validate).
    static func frames(carrying metadata: Metadata) -> [UInt8] {
        encoded(
            .callStart(CallStart(streamID: 1, method: "a/b", metadata: metadata)),
            .callEnd(CallEnd(streamID: 3, status: .ok, metadata: metadata)),
            .halfClose(streamID: 5)
        )
    }

    /// Expects both frames to be stream errors with `code`, and the connection to go on.
    static func expectRejected(_ metadata: Metadata, code: WireError.Code, limits: WireLimits = .default, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let decoded = try decodeAll(frames(carrying: metadata), limits: limits)
        #expect(decoded.count == 3, sourceLocation: sourceLocation)
        expectStreamError(decoded.first, streamID: 1, type: .callStart, code: code, sourceLocation: sourceLocation)
        expectStreamError(decoded.dropFirst().first, streamID: 3, type: .callEnd, code: code, sourceLocation: sourceLocation)
        #expect(decoded.last == .frame(.halfClose(streamID: 5)), sourceLocation: sourceLocation)
    }

    @Test("keys that break the syntax are refused on receipt", arguments: ["", "Tenant", "a\rb", "a\nb", "a\u{0}b", "a b", "é"])
    func wireBadKey(key: String) throws {
        try Self.expectRejected(["ok": "1", key: "v"], code: .invalidMetadataKey)
    }

    @Test("the reserved prefix is refused on receipt")
    func wireReservedKey() throws {
        try Self.expectRejected(["drpc-x": "v"], code: .reservedMetadataKey)
        try Self.expectRejected(["drpc-x-bin": .binary([1])], code: .reservedMetadataKey)
    }

    @Test("values outside printable ASCII are refused on receipt", arguments: ["a\r", "\n", "\u{0}", "\u{7F}", "é"])
    func wireNonPrintableValue(value: String) throws {
        try Self.expectRejected(["k": .string(value)], code: .invalidMetadataValue)
    }

    @Test("binary bytes under a key without -bin are refused on receipt")
    func wireBinaryOnTextKey() throws {
        try Self.expectRejected(["trace": .binary([0, 1, 0xFF])], code: .invalidMetadataValue)
    }

    @Test("a -bin key carries any bytes, and printable bytes under it stay binary")
    func wireBinaryKey() throws {
        let metadata: Metadata = ["a-bin": .binary((0...255).map { UInt8($0) }), "-bin": .binary(Array("text".utf8))]
        let frame = Frame.callStart(CallStart(streamID: 1, method: "a/b", metadata: metadata))
        #expect(try decodeAll(encoded(frame)) == [.frame(frame)])
    }

    @Test("a 255-byte key is accepted on receipt")
    func wireLongestKey() throws {
        let frame = Frame.callEnd(CallEnd(streamID: 1, status: .ok, metadata: [String(repeating: "k", count: 255): "v"]))
        #expect(try decodeAll(encoded(frame)) == [.frame(frame)])
    }

    @Test("a metadata block of exactly the size limit is accepted; one byte more is resourceExhausted", arguments: [0, 100, 8 * 1024])
    func wireSizeLimit(limit: Int) throws {
        let limits = WireLimits(maxMetadataSize: limit)
        let filler = max(0, limit - 4)  // key length byte + "k" + value length
        let atLimit: Metadata = limit == 0 ? [:] : ["k": .string(String(repeating: "v", count: filler))]
        for frame in [
            Frame.callStart(CallStart(streamID: 1, method: "a/b", metadata: atLimit)),
            Frame.callEnd(CallEnd(streamID: 1, status: .ok, metadata: atLimit)),
        ] {
            #expect(try decodeAll(encoded(frame), limits: limits) == [.frame(frame)])
        }
        let overLimit: Metadata = limit == 0 ? ["": ""] : ["k": .string(String(repeating: "v", count: filler + 1))]
        try Self.expectRejected(overLimit, code: .metadataTooLarge, limits: limits)
    }

    @Test("a metadata block with exactly the entry limit is accepted; one entry more is resourceExhausted", arguments: [0, 1, 64])
    func wireEntryLimit(limit: Int) throws {
        let limits = WireLimits(maxMetadataEntries: limit)
        var atLimit = Metadata()
        for index in 0..<limit { atLimit.add("\(index)", forKey: "k\(index)") }
        let frame = Frame.callStart(CallStart(streamID: 1, method: "a/b", metadata: atLimit))
        #expect(try decodeAll(encoded(frame), limits: limits) == [.frame(frame)])
        var overLimit = atLimit
        overLimit.add("x", forKey: "x")
        let error = try #require(try decodeAll(encoded(.callStart(CallStart(streamID: 1, method: "a/b", metadata: overLimit))), limits: limits).first)
        expectStreamError(error, streamID: 1, type: .callStart, code: .tooManyMetadataEntries)
        try Self.expectRejected(overLimit, code: .tooManyMetadataEntries, limits: limits)
    }

    @Test("the size limit is decided from the declared block length, before any entry is read")
    func wireSizeDecidedFromDeclaredLength() throws {
        for declared: UInt32 in [8 * 1024 + 1, 1 << 20, .max] {
            // The frame holds no entries at all: only the declared length is wrong.
            let block = RawFrame.metadataBlock([], declaredLength: declared, declaredCount: 1)
            let callStart = RawFrame.frame(.callStart, streamID: 1, payload: RawFrame.callStartPayload(metadata: block))
            let callEnd = RawFrame.frame(.callEnd, streamID: 3, payload: RawFrame.callEndPayload(metadata: block))
            let decoded = try decodeAll(callStart + callEnd)
            let first = expectStreamError(decoded.first, streamID: 1, type: .callStart, code: .metadataTooLarge)
            #expect(first?.statusCode == .resourceExhausted)
            expectStreamError(decoded.last, streamID: 3, type: .callEnd, code: .metadataTooLarge)
        }
    }

    @Test("the entry limit is decided from the declared count, before any entry is read")
    func wireCountDecidedFromDeclaredCount() throws {
        for declared: UInt16 in [65, 1000, .max] {
            let block = RawFrame.metadataBlock([], declaredLength: 0, declaredCount: declared)
            let callStart = RawFrame.frame(.callStart, streamID: 1, payload: RawFrame.callStartPayload(metadata: block))
            let error = expectStreamError(try decodeAll(callStart).first, streamID: 1, type: .callStart, code: .tooManyMetadataEntries)
            #expect(error?.statusCode == .resourceExhausted)
        }
    }

    @Test("a bad entry is reported even when earlier entries are fine, and the first violation wins")
    func wireFirstViolationWins() throws {
        let block = RawFrame.metadataBlock([
            (Array("ok".utf8), Array("fine".utf8)),
            (Array("drpc-a".utf8), Array("v".utf8)),
            (Array("BAD".utf8), Array("v".utf8)),
        ])
        let decoded = try decodeAll(RawFrame.frame(.callStart, streamID: 1, payload: RawFrame.callStartPayload(metadata: block)))
        expectStreamError(decoded.first, streamID: 1, type: .callStart, code: .reservedMetadataKey)
    }

    // MARK: Limits a sender checks

    @Test("encodedBlockLength is exactly the block the encoder writes, for text, binary and non-ASCII values")
    func encodedBlockLengthMatchesTheEncoder() {
        let metadata: Metadata = ["a": "x", "trace-bin": .binary([0, 1, 2, 255]), "name": "Zoë", "empty": ""]
        var buffer = ByteBuffer()
        FrameEncoder.writeMetadata(metadata, into: &buffer)
        let declared = buffer.getInteger(at: 0, endianness: .big, as: UInt32.self)
        #expect(metadata.encodedBlockLength == Int(declared ?? 0))
        #expect(metadata.encodedBlockLength == buffer.readableBytes - 6, "the block follows the 6-byte length and count")
        #expect(Metadata().encodedBlockLength == 0)
    }

    @Test("checkLimits refuses what the receiver's decoder would refuse, with the same codes, and nothing else")
    func checkLimitsMatchesTheDecoder() {
        var settings = Settings.default
        settings.maxMetadataSize = 10
        settings.maxMetadataEntries = 2
        let fits: Metadata = ["ab": "12345"]  // 3 + 2 + 5 = 10 bytes: exactly the limit
        #expect(fits.checkLimits(of: settings) == nil)
        let tooBig: Metadata = ["ab": "123456"]
        #expect(tooBig.checkLimits(of: settings)?.code == .metadataTooLarge)
        let tooMany: Metadata = ["a": "", "b": "", "c": ""]
        #expect(tooMany.checkLimits(of: settings)?.code == .tooManyMetadataEntries)
    }
}
