// What the server under FuzzServerConnection wrote, checked as a client reads it. Shared with the test target
// like ServerConnectionFuzzHarness.swift (symlink `Tests/DeadlineRPCTests/Hostile/ServerOutputChecker.swift`).

import NIOCore
import Wire

/// What the server wrote, decoded as a client would, checked frame by frame: it must always decode, every stream
/// ends at most once (one `CALL_END` or `CANCEL`) with nothing after its end, and nothing follows an error goaway.
struct ServerOutputChecker {
    private var decoder = FrameDecoder(
        limits: WireLimits(maxFrameSize: WireLimits.maximumFrameSize, maxMessageSize: Int(UInt32.max), maxMetadataSize: 1 << 24, maxMetadataEntries: Int(UInt16.max)),
        expectPreface: true
    )
    private var ended: Set<UInt32> = []
    private var failed = false
    private(set) var sawGoAway = false
    /// The code of an error goaway (not `NO_ERROR`), once sent.
    private(set) var errorGoAway: GoAwayCode?
    /// The server closed because of an I/O error (no goaway is owed then).
    var closedByIOError = false
    private(set) var violations: [String] = []
    var observe: ((Frame) -> Void)?

    mutating func receive(_ bytes: ByteBuffer) {
        guard !self.failed else { return }
        self.decoder.append(bytes)
        do {
            while let decoded = try self.decoder.nextFrame() {
                guard case .frame(let frame) = decoded else {
                    self.fail("the server wrote a frame a client rejects: \(decoded)")
                    return
                }
                self.observe?(frame)
                self.check(frame)
            }
        } catch {
            self.fail("the server wrote bytes that do not decode: \(error)")
        }
    }

    private mutating func check(_ frame: Frame) {
        if let code = self.errorGoAway {
            self.fail("the server wrote \(frame.type) after GOAWAY(\(code))")
            return
        }
        switch frame {
        case .goAway(let goAway):
            self.sawGoAway = true
            if goAway.code != .noError { self.errorGoAway = goAway.code }
        case .callEnd(let end):
            if !self.ended.insert(end.streamID).inserted { self.fail("stream \(end.streamID) ended twice (CALL_END)") }
        case .cancel(let streamID, _):
            if !self.ended.insert(streamID).inserted { self.fail("stream \(streamID) ended twice (CANCEL)") }
        case .message(let message):
            if self.ended.contains(message.streamID) { self.fail("MESSAGE on stream \(message.streamID) after its end") }
        case .callStart, .halfClose:
            self.fail("the server wrote a client-only frame: \(frame.type)")
        case .settings, .credit, .ping:
            break
        }
    }

    private mutating func fail(_ violation: String) {
        self.failed = true
        self.violations.append(violation)
    }
}
