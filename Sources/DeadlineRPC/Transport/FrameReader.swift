import NIOCore
import Wire

/// The read side of one connection, for either role: the incremental ``FrameDecoder``, the peer's settings, and
/// the role's "stream never opened" rule — a frame for a stream with no entry is a late frame (dropped, counted)
/// when the stream was opened and ended, and a protocol violation (`GOAWAY`) when it never was.
///
/// Stored inline in its channel handler; confined to the connection's event loop.
struct FrameReader {
    /// Which end of the connection reads: it decides which stream ids count as opened.
    enum Role: Sendable, Hashable {
        /// Opens streams: ids below its next stream id were opened.
        case client
        /// Accepts streams: ids up to the last one the client opened were opened.
        case server
    }

    /// Which end reads.
    let role: Role
    private var decoder: FrameDecoder
    /// The peer's settings: the protocol's defaults until its `SETTINGS` frame arrives.
    private(set) var peerSettings = Settings.default

    /// A reader expecting the peer's preface first (both ends send one).
    init(role: Role, limits: WireLimits) {
        self.role = role
        self.decoder = FrameDecoder(limits: limits, expectPreface: true)
    }

    /// Frames the decoder skipped (unknown type) or found with undefined flags, since the connection began.
    var ignoredFrameCount: Int { self.decoder.ignoredFrameCount }

    /// Buffers bytes read from the socket.
    mutating func append(_ bytes: ByteBuffer) {
        self.decoder.append(bytes)
    }

    /// The next whole frame, or nil when more bytes are needed; throws when the bytes break the connection.
    mutating func nextFrame() throws(WireError) -> DecodedFrame? {
        try self.decoder.nextFrame()
    }

    /// The peer's `SETTINGS` arrived: kept here, and the writer's frame size and initial credit follow them.
    mutating func settingsReceived(_ settings: Settings, writer: inout ConnectionWriter) {
        self.peerSettings = settings
        writer.peerSettingsChanged(settings)
    }

    /// The open stream a `type` frame on `streamID` refers to; nil when there is none, after reporting why: `late`
    /// for a stream that was opened and has ended (dropped, counted), `violation` for one never opened (`GOAWAY`).
    func stream<Entry>(
        _ entry: Entry?,
        _ type: FrameType,
        streamID: UInt32,
        mark: UInt32,
        late: () -> Void,
        violation: (WireError) -> Void
    ) -> Entry? {
        if let entry { return entry }
        if let error = self.neverOpened(type, streamID: streamID, mark: mark) { violation(error) } else { late() }
        return nil
    }

    /// The protocol error for a `type` frame on `streamID`, which has no entry here, when that stream was never
    /// opened; nil when it was (the frame is late, to be dropped). `mark` is the server's last accepted stream id,
    /// or the client's next stream id.
    func neverOpened(_ type: FrameType, streamID: UInt32, mark: UInt32) -> WireError? {
        let opened: Bool
        switch self.role {
        case .server: opened = streamID <= mark
        case .client: opened = streamID < mark
        }
        if opened { return nil }
        return WireError(.protocolViolation, "A \(type) frame arrived for stream \(streamID), which was never opened.")
    }
}
