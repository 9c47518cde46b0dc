import Wire
/// Per-call settings for an outbound call.
public struct CallOptions: Sendable {
    /// A timeout from now. The effective deadline is the earliest of this, ``deadline``, the method's default and
    /// the deadline inherited from the call being served — an option can shorten an inherited budget, never
    /// extend it.
    public var timeout: Duration?
    /// An absolute deadline on this host's clock (same rule: it can only shorten).
    public var deadline: Deadline?
    /// Request metadata (validated before anything is sent).
    public var metadata: Metadata
    /// Compress request messages with this encoding (when the server accepts it).
    public var compression: MessageEncoding

    /// Creates options.
    public init(
        timeout: Duration? = nil,
        deadline: Deadline? = nil,
        metadata: Metadata = Metadata(),
        compression: MessageEncoding = .identity
    ) {
        self.timeout = timeout
        self.deadline = deadline
        self.metadata = metadata
        self.compression = compression
    }

    /// No timeout beyond what is inherited, no metadata, no compression.
    public static let `default` = CallOptions()
}
