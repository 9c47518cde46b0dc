/// How a stream's compressed messages are encoded; named in `CALL_START`, offered in settings.
public struct MessageEncoding: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The byte on the wire.
    public var rawValue: UInt8

    /// Creates an encoding from its wire byte (known or not).
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// No compression: a message with the compressed flag on such a stream is an error.
    public static let identity = MessageEncoding(rawValue: 0)
    /// gzip (RFC 1952) from the system zlib.
    public static let gzip = MessageEncoding(rawValue: 1)
    /// Raw deflate (RFC 1951) from the system zlib.
    public static let deflate = MessageEncoding(rawValue: 2)

    /// The encoding's bit in the `acceptedEncodings` setting (identity is always accepted and has none).
    public var settingsBit: UInt32 {
        switch self {
        case .gzip: return 0x1
        case .deflate: return 0x2
        default: return 0
        }
    }

    /// Whether this implementation can compress and decompress the encoding.
    public var isSupported: Bool { self == .identity || self == .gzip || self == .deflate }

    /// A readable name.
    public var description: String {
        switch self {
        case .identity: return "identity"
        case .gzip: return "gzip"
        case .deflate: return "deflate"
        default: return "encoding \(self.rawValue)"
        }
    }
}
