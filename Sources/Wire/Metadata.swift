/// Key-value pairs sent with a call (request metadata) or its end (trailing metadata).
///
/// Keys are lowercase ASCII tokens (`a-z 0-9 - _ .`, 1 to 255 bytes). Keys ending in `-bin` carry binary values;
/// all others carry printable ASCII. Keys starting with ``Metadata/reservedPrefix`` belong to the runtime.
/// A key may appear more than once, but only when you say so: ``add(_:forKey:)`` appends, ``insert(_:forKey:)``
/// refuses a key that is already there, and ``replace(_:forKey:)`` overwrites on purpose — nothing is replaced
/// silently.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// A metadata value: text for ordinary keys, bytes for `-bin` keys.
    public enum Value: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
        /// Printable ASCII (0x20 ... 0x7E).
        case string(String)
        /// Arbitrary bytes; only for keys ending in `-bin`.
        case binary([UInt8])

        /// A string literal is a text value.
        public init(stringLiteral value: String) { self = .string(value) }

        /// The text, or the bytes in hex.
        public var description: String {
            switch self {
            case .string(let s): return s
            case .binary(let b): return b.map { $0 < 0x10 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            }
        }
    }

    /// One entry.
    public typealias Element = (key: String, value: Value)

    /// The prefix reserved for keys the runtime defines; user metadata may not use it.
    public static let reservedPrefix = "drpc-"

    @usableFromInline var elements: [Element]

    /// Creates empty metadata.
    public init() { self.elements = [] }

    /// Creates metadata from pairs, in order, keeping duplicates: `["tenant": "acme"]`.
    public init(dictionaryLiteral elements: (String, Value)...) {
        self.elements = elements.map { (key: $0.0, value: $0.1) }
    }

    /// The number of entries.
    public var count: Int { self.elements.count }
    /// Whether there are no entries.
    public var isEmpty: Bool { self.elements.isEmpty }

    /// Iterates entries in the order they were added (and sent).
    public func makeIterator() -> IndexingIterator<[Element]> {
        self.elements.makeIterator()
    }

    /// Appends a value, keeping any earlier value for the same key (an explicit multi-value).
    public mutating func add(_ value: String, forKey key: String) {
        self.elements.append((key: key, value: .string(value)))
    }

    /// Appends a binary value (the key must end in `-bin`).
    public mutating func add(_ value: [UInt8], forKey key: String) {
        self.elements.append((key: key, value: .binary(value)))
    }

    /// Appends an entry.
    public mutating func add(_ value: Value, forKey key: String) {
        self.elements.append((key: key, value: value))
    }

    /// Adds a value only if the key is absent; a collision is an error, never a silent overwrite.
    public mutating func insert(_ value: Value, forKey key: String) throws(MetadataCollision) {
        if self.contains(key: key) { throw MetadataCollision(key: key) }
        self.elements.append((key: key, value: value))
    }

    /// Removes every value for the key, then adds this one: an overwrite you asked for.
    public mutating func replace(_ value: Value, forKey key: String) {
        self.removeAll(forKey: key)
        self.elements.append((key: key, value: value))
    }

    /// Removes every value for the key.
    public mutating func removeAll(forKey key: String) {
        self.elements.removeAll { $0.key == key }
    }

    /// Whether the key has at least one value.
    public func contains(key: String) -> Bool {
        self.elements.contains { $0.key == key }
    }

    /// The first text value for the key, if any.
    public func first(forKey key: String) -> String? {
        for element in self.elements where element.key == key {
            if case .string(let s) = element.value { return s }
        }
        return nil
    }

    /// Every value for the key, in order.
    public func values(forKey key: String) -> [Value] {
        self.elements.filter { $0.key == key }.map(\.value)
    }

    /// Entries compare in order, key and value.
    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        lhs.elements.count == rhs.elements.count
            && zip(lhs.elements, rhs.elements).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Hashes entries in order.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.elements.count)
        for element in self.elements {
            hasher.combine(element.key)
            hasher.combine(element.value)
        }
    }

    /// `[key: value, …]` in order.
    public var description: String {
        "[" + self.elements.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
    }
}

/// Two writers for one metadata key: thrown by ``Metadata/insert(_:forKey:)``, and the cause of the
/// `invalidArgument` a call fails with when its metadata has two writers for a key.
public struct MetadataCollision: Error, Hashable, CustomStringConvertible {
    /// The key that was already present.
    public var key: String
    /// Who wrote the key first and who tried again (e.g. "CallOptions.metadata", "instrument W3CTracer"), when the
    /// runtime knows; empty from ``Metadata/insert(_:forKey:)``.
    public var writers: [String]

    /// A collision on `key`, naming its writers when known.
    public init(key: String, writers: [String] = []) {
        self.key = key
        self.writers = writers
    }

    /// Names the key and, when known, both writers.
    public var description: String {
        if self.writers.count >= 2 {
            return "Metadata key '\(key)' is written by both \(writers[0]) and \(writers[1])."
        }
        return "Metadata key '\(key)' is already set; use add(_:forKey:) for a second value or replace(_:forKey:) to overwrite."
    }
}

extension Metadata {
    /// The bytes of the entries as encoded on the wire (the block length a receiver checks against its
    /// `maxMetadataSize`): per entry one key-length byte, the key, two value-length bytes and the value.
    public var encodedBlockLength: Int {
        var total = 0
        for (key, value) in self.elements {
            total += 3 + key.utf8.count
            switch value {
            case .string(let string): total += string.utf8.count
            case .binary(let bytes): total += bytes.count
            }
        }
        return total
    }

    /// Checks the block against a receiver's advertised limits (its `SETTINGS`), returning the violation the
    /// receiver would report; a sender runs it before writing, so the call fails with a clear status instead of the
    /// peer refusing the frame.
    public func checkLimits(of settings: Settings) -> WireError? {
        if self.count > Int(settings.maxMetadataEntries) {
            return WireError(.tooManyMetadataEntries, "\(self.count) metadata entries exceed the peer's limit of \(settings.maxMetadataEntries).")
        }
        let length = self.encodedBlockLength
        if length > Int(settings.maxMetadataSize) {
            return WireError(.metadataTooLarge, "Metadata of \(length) bytes exceeds the peer's limit of \(settings.maxMetadataSize) bytes.")
        }
        return nil
    }

    /// Checks every key and value against the wire rules, returning the first violation; a sender runs it before
    /// anything is written, and `allowReserved` is for the runtime's own keys only.
    public func validate(allowReserved: Bool = false) -> WireError? {
        for element in self.elements {
            if let error = Metadata.validate(key: element.key, value: element.value, allowReserved: allowReserved) {
                return error
            }
        }
        return nil
    }

    /// Checks one entry against the wire rules.
    public static func validate(key: String, value: Value, allowReserved: Bool = false) -> WireError? {
        var utf8 = key.utf8
        if let error = utf8.withContiguousStorageIfAvailable({ validateKey(bytes: $0) }) ?? validateKey(bytes: Array(utf8)) {
            return error
        }
        if !allowReserved && key.hasPrefix(reservedPrefix) {
            return WireError(.reservedMetadataKey, "Metadata key '\(key)' uses the prefix '\(reservedPrefix)' reserved for the runtime.")
        }
        let isBinaryKey = key.hasSuffix("-bin")
        switch value {
        case .binary(let bytes):
            if !isBinaryKey {
                return WireError(.invalidMetadataValue, "Metadata key '\(key)' has a binary value; binary values need a key ending in '-bin'.")
            }
            if bytes.count > Int(UInt16.max) {
                return WireError(.invalidMetadataValue, "Metadata value for '\(key)' is \(bytes.count) bytes; at most 65535 fit an entry.")
            }
        case .string(let string):
            if isBinaryKey {
                return WireError(.invalidMetadataValue, "Metadata key '\(key)' ends in '-bin' and needs a binary value.")
            }
            utf8 = string.utf8
            if utf8.count > Int(UInt16.max) {
                return WireError(.invalidMetadataValue, "Metadata value for '\(key)' is \(utf8.count) bytes; at most 65535 fit an entry.")
            }
            if !utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) {
                return WireError(.invalidMetadataValue, "Metadata value for '\(key)' has a byte outside printable ASCII (CR, LF, NUL or non-ASCII).")
            }
        }
        return nil
    }

    /// Key syntax on raw bytes: 1 ... 255 bytes of `a-z 0-9 - _ .`.
    static func validateKey<C: Collection>(bytes: C) -> WireError? where C.Element == UInt8 {
        if bytes.isEmpty || bytes.count > 255 {
            return WireError(.invalidMetadataKey, "Metadata keys are 1 to 255 bytes; got \(bytes.count).")
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                continue
            default:
                return WireError(.invalidMetadataKey, "Metadata key '\(String(decoding: bytes, as: UTF8.self))' has byte 0x\(String(byte, radix: 16)); keys are lowercase ASCII tokens (a-z 0-9 - _ .).")
            }
        }
        return nil
    }
}
