import Logging
import NIOCore
import ServiceContextModule
import Synchronization
import Wire

// Frames in: paced decoding, dispatch by type, stream-id rules.
extension ServerConnectionHandler {
    // MARK: Decoding

    /// Handles buffered frames, at most ``framesPerTick`` per loop job: a peer that pipelines thousands of frames
    /// (a rapid-reset or ping flood) gets one slice, then the jobs already queued on the loop (other connections'
    /// handler outcomes, writes, timers) run before its next slice. Its socket is not read until its backlog is
    /// handled, so the backlog is at most one read's worth of bytes; NIO runs every ready job before it polls
    /// again, so other connections' new bytes wait for at most that one read's frames.
    func decodeFrames() {
        var budget = Self.framesPerTick
        do {
            while self.state != .closed && !self.inboundPaused {
                guard budget > 0 else {
                    self.scheduleDecode()
                    return
                }
                let decoded = try self.reader.nextFrame()
                guard self.chargeIgnoredFrames(), let decoded else { break }
                budget -= 1
                self.handle(decoded)
            }
        } catch {
            self.connectionError(error)
        }
        if self.readHeld, !self.inboundPaused, let context = self.context, self.state != .closed {
            self.readHeld = false
            context.read()
        }
    }

    /// Frames handled per event-loop tick before yielding the loop.
    static let framesPerTick = 256

    /// Continues decoding in a later tick.
    func scheduleDecode() {
        guard !self.decodeScheduled, let context = self.context else { return }
        self.decodeScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            self.decodeScheduled = false
            self.decodeFrames()
            self.flushNow()
        }
    }

    func handle(_ decoded: DecodedFrame) {
        switch decoded {
        case .frame(let frame):
            self.handle(frame)
        case .streamError(let streamID, let type, let error):
            self.handleStreamError(streamID: streamID, type: type, error: error)
        }
    }

    func handle(_ frame: Frame) {
        switch frame {
        case .settings(let settings):
            self.reader.settingsReceived(settings, writer: &self.writer)
            self.prefaceTimer?.cancel()
            self.prefaceTimer = nil
            if case .awaitingSettings = self.state { self.state = .active }
            self.noteIdle()
        case .callStart(let start):
            self.handleCallStart(start)
        case .message(let message):
            self.handleMessage(message)
        case .halfClose(let streamID):
            guard let stream = self.openStream(streamID, type: .halfClose) else { return }
            if stream.machine.hasEnded { return self.lateFrameDropped() }  // State before fragment rules (§13.4).
            if stream.inbound.isAssembling {
                self.connectionError(WireError(.protocolViolation, "Stream \(streamID) half-closed in the middle of a message."))
                return
            }
            self.perform(stream.machine.receiveHalfClose(), on: stream)
        case .cancel(let streamID, let reason):
            LatencyTrace.mark(.serverCancelFrame, self)
            guard let stream = self.openStream(streamID, type: .cancel) else {
                // The call already ended here, but its response may still be queued: the client wants none of it.
                if streamID <= self.lastStreamID {
                    self.writer.scheduler.dropStream(streamID)
                    self.queuedReplyCancelled(streamID)
                }
                return
            }
            // Not a cancel of an open call: no reset budget spent.
            if stream.machine.hasEnded { return self.lateFrameDropped() }
            guard self.enforce(self.connectionGuard.cancelReceived(now: self.uptimeNow())) else { return }
            self.perform(stream.machine.receiveCancel(reason), on: stream)
        case .credit(let streamID, let bytes):
            if bytes == 0 && !self.glitch("empty frames (CREDIT 0)") { return }
            // Credit applies to what is still queued, which can outlive the call's entry (a response being
            // written after the handler returned).
            if let error = self.reader.neverOpened(.credit, streamID: streamID, mark: self.lastStreamID) {
                self.connectionError(error)
                return
            }
            switch self.streams[streamID]?.machine.hasEnded {
            case false?:
                // A live stream that has sent nothing has no write queue yet: the credit must not be lost.
                self.writer.scheduler.openStream(streamID)
            case true?:
                self.lateFrameDropped()
            case nil:
                if !self.writer.scheduler.hasQueuedFrames(streamID) { self.lateFrameDropped() }
            }
            if !self.writer.scheduler.addCredit(streamID: streamID, bytes) {
                self.connectionError(WireError(.flowControlViolation, "Stream \(streamID)'s credit passed 2^31 - 1."))
            }
        case .ping(let ping):
            if !ping.ack {
                guard self.enforce(self.connectionGuard.pingReceived(now: self.uptimeNow())) else { return }
                self.writeControl(.ping(PingFrame(payload: ping.payload, ack: true)))
            } else {
                self.keepalivePingAnswered()
            }
        case .goAway(let goAway):
            // §14.2: no call starts after a client's GOAWAY. With an error the client closes the connection at
            // once, so its calls end as on connection loss (§14.3): handlers cancelled, reason `cancelled`.
            self.peerSentGoAway = true
            if goAway.code != .noError {
                self.closeReason = .cancelled
                self.close()
            }
        case .callEnd:
            self.connectionError(WireError(.protocolViolation, "A client sent CALL_END on stream \(frame.streamID); only servers end calls."))
        }
    }

    /// The stream a frame refers to; nil (frame dropped) for an ended stream, a goaway for one never opened.
    func openStream(_ streamID: UInt32, type: FrameType) -> ServerStream? {
        self.reader.stream(
            self.streams[streamID], type, streamID: streamID, mark: self.lastStreamID,
            late: { self.lateFrameDropped() }, violation: { self.connectionError($0) }
        )
    }

    func handleStreamError(streamID: UInt32, type: FrameType, error: WireError) {
        let status = Status(code: error.statusCode ?? .internal, message: error.message)
        if type == .callStart {
            guard self.acceptNewStreamID(streamID) else { return }
            self.metrics.callStarted("<invalid>")
            self.writer.scheduler.enqueue(.callEnd(CallEnd(streamID: streamID, status: status.code, message: status.message)))
            self.metrics.callFinished("<invalid>", code: status.code, nanoseconds: 0)
            self.glitch("calls that failed on their own bytes")
            return
        }
        guard let stream = self.openStream(streamID, type: type) else { return }
        // State before the decoding result (§13.4): a message after the client's end of stream is that error.
        if type == .message || type == .messageContinuation, stream.machine.refusesMessages {
            return self.messageRefusedByState(stream, endStream: false)
        }
        if stream.machine.hasEnded { return self.lateFrameDropped() }
        self.perform(stream.machine.streamError(status), on: stream)
    }

    /// Checks the id rules for a new stream; a violation ends the connection.
    func acceptNewStreamID(_ streamID: UInt32) -> Bool {
        if streamID & 1 == 0 {
            self.connectionError(WireError(.protocolViolation, "Client stream ids are odd; got \(streamID)."))
            return false
        }
        if streamID <= self.lastStreamID {
            self.connectionError(WireError(.protocolViolation, "Stream id \(streamID) is not above the last one used (\(self.lastStreamID))."))
            return false
        }
        self.lastStreamID = streamID
        return true
    }
}
