import NIOCore

/// What one side tells the other right after the preface: its receive limits and preferences.
///
/// Each side sends exactly one `SETTINGS` frame; a second one is a protocol error (which also makes settings
/// floods impossible). A sender must keep within the limits its peer advertised.
public struct Settings: Sendable, Hashable {
    /// Largest frame payload the sender of these settings accepts.
    public var maxFrameSize: UInt32
    /// Most streams the sender accepts open at once.
    public var maxConcurrentStreams: UInt32
    /// Message bytes the peer may send on a new stream before it gets more credit.
    public var initialStreamCredit: UInt32
    /// Largest message accepted, before and after decompression.
    public var maxMessageSize: UInt32
    /// Largest metadata block accepted.
    public var maxMetadataSize: UInt32
    /// Most metadata entries accepted in one block.
    public var maxMetadataEntries: UInt32
    /// Bitmask of the `MessageEncoding.settingsBit`s the sender can decompress.
    public var acceptedEncodings: UInt32

    /// Creates settings.
    public init(
        maxFrameSize: UInt32 = 16 * 1024,
        maxConcurrentStreams: UInt32 = 100,
        initialStreamCredit: UInt32 = 64 * 1024,
        maxMessageSize: UInt32 = 4 * 1024 * 1024,
        maxMetadataSize: UInt32 = 8 * 1024,
        maxMetadataEntries: UInt32 = 64,
        acceptedEncodings: UInt32 = MessageEncoding.gzip.settingsBit | MessageEncoding.deflate.settingsBit
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialStreamCredit = initialStreamCredit
        self.maxMessageSize = maxMessageSize
        self.maxMetadataSize = maxMetadataSize
        self.maxMetadataEntries = maxMetadataEntries
        self.acceptedEncodings = acceptedEncodings
    }

    /// Settings that advertise exactly the given receive limits.
    public init(
        limits: WireLimits,
        maxConcurrentStreams: UInt32 = 100,
        initialStreamCredit: UInt32 = 64 * 1024,
        acceptedEncodings: UInt32 = MessageEncoding.gzip.settingsBit | MessageEncoding.deflate.settingsBit
    ) {
        self.init(
            maxFrameSize: UInt32(limits.maxFrameSize),
            maxConcurrentStreams: maxConcurrentStreams,
            initialStreamCredit: initialStreamCredit,
            maxMessageSize: UInt32(limits.maxMessageSize),
            maxMetadataSize: UInt32(limits.maxMetadataSize),
            maxMetadataEntries: UInt32(limits.maxMetadataEntries),
            acceptedEncodings: acceptedEncodings
        )
    }

    /// What a peer is assumed to accept before its settings arrive (and for any setting it leaves out).
    public static let `default` = Settings()

    /// Whether the peer can decompress `encoding`.
    public func accepts(_ encoding: MessageEncoding) -> Bool {
        encoding == .identity || (encoding.isSupported && self.acceptedEncodings & encoding.settingsBit != 0)
    }

    /// The 16-bit identifiers of each setting on the wire.
    public enum Identifier {
        /// `maxFrameSize`, 1024 ... 16 777 216.
        public static let maxFrameSize: UInt16 = 0x1
        /// `maxConcurrentStreams`, any value (0 refuses every call).
        public static let maxConcurrentStreams: UInt16 = 0x2
        /// `initialStreamCredit`, 0 ... 2^31 - 1.
        public static let initialStreamCredit: UInt16 = 0x3
        /// `maxMessageSize`, any value.
        public static let maxMessageSize: UInt16 = 0x4
        /// `maxMetadataSize`, any value.
        public static let maxMetadataSize: UInt16 = 0x5
        /// `maxMetadataEntries`, 0 ... 65 535.
        public static let maxMetadataEntries: UInt16 = 0x6
        /// `acceptedEncodings`, a bitmask; unknown bits are ignored.
        public static let acceptedEncodings: UInt16 = 0x7
    }

    /// Most entries one `SETTINGS` frame may hold.
    public static let maxEntries = 32
    /// The largest credit value a stream's window may reach.
    public static let maxCredit: UInt32 = 0x7FFF_FFFF

    /// Writes the entries, in identifier order, every setting included.
    func writeEntries(into buffer: inout ByteBuffer) {
        let entries: [(UInt16, UInt32)] = [
            (Identifier.maxFrameSize, self.maxFrameSize),
            (Identifier.maxConcurrentStreams, self.maxConcurrentStreams),
            (Identifier.initialStreamCredit, self.initialStreamCredit),
            (Identifier.maxMessageSize, self.maxMessageSize),
            (Identifier.maxMetadataSize, self.maxMetadataSize),
            (Identifier.maxMetadataEntries, self.maxMetadataEntries),
            (Identifier.acceptedEncodings, self.acceptedEncodings),
        ]
        for (id, value) in entries {
            buffer.writeInteger(id, endianness: .big)
            buffer.writeInteger(value, endianness: .big)
        }
    }

    /// Bytes the encoded entries take.
    static let encodedSize = 7 * 6
}
