/// The receive limits a decoder enforces. Each side advertises the same numbers in its settings, so what it
/// advertises is exactly what it enforces, from the first frame.
public struct WireLimits: Sendable, Hashable {
    /// Largest frame payload accepted, in bytes (default 16 KiB; range 1 KiB ... 16 MiB).
    public var maxFrameSize: Int
    /// Largest message accepted, in bytes, both as sent and after decompression (default 4 MiB).
    public var maxMessageSize: Int
    /// Largest metadata block accepted in one `CALL_START` or `CALL_END`, in bytes as encoded (default 8 KiB).
    public var maxMetadataSize: Int
    /// Most metadata entries accepted in one block (default 64).
    public var maxMetadataEntries: Int

    /// The smallest frame size a peer may advertise; calls must fit one `CALL_START` frame.
    public static let minimumFrameSize = 1024
    /// The largest frame size a peer may advertise.
    public static let maximumFrameSize = 16 * 1024 * 1024
    /// Longest method name, in bytes.
    public static let maxMethodLength = 1024
    /// Longest status message or goaway reason a sender writes; receivers accept whatever fits a frame.
    public static let maxReasonLength = 4096

    /// Creates limits; values are clamped into their valid ranges so a bad configuration cannot produce an
    /// unencodable setting.
    public init(
        maxFrameSize: Int = 16 * 1024,
        maxMessageSize: Int = 4 * 1024 * 1024,
        maxMetadataSize: Int = 8 * 1024,
        maxMetadataEntries: Int = 64
    ) {
        self.maxFrameSize = min(max(maxFrameSize, Self.minimumFrameSize), Self.maximumFrameSize)
        self.maxMessageSize = min(max(maxMessageSize, 0), Int(UInt32.max))
        self.maxMetadataSize = min(max(maxMetadataSize, 0), Int(UInt32.max))
        self.maxMetadataEntries = min(max(maxMetadataEntries, 0), Int(UInt16.max))
    }

    /// The defaults listed in `docs/PROTOCOL.md`.
    public static let `default` = WireLimits()
}
