import Testing

@testable import Wire

@Suite("WireError: every code is either a connection error with a goaway code or a stream error with a status", .timeLimit(.minutes(5)))
struct WireErrorTests {
    static let connectionErrors: [(WireError.Code, GoAwayCode)] = [
        (.badPreface, .badPreface),
        (.unsupportedVersion, .unsupportedVersion),
        (.expectedSettings, .protocolError),
        (.duplicateSettings, .protocolError),
        (.invalidSetting, .protocolError),
        (.frameTooLarge, .frameSizeError),
        (.badFrameLength, .frameSizeError),
        (.streamIDRequired, .protocolError),
        (.streamIDForbidden, .protocolError),
        (.reservedBitSet, .protocolError),
        (.malformedFrame, .protocolError),
        (.protocolViolation, .protocolError),
        (.flowControlViolation, .flowControlError),
        (.enhanceYourCalm, .enhanceYourCalm),
        (.timeout, .timeout),
        (.tooManyPings, .tooManyPings),
    ]

    static let streamErrors: [(WireError.Code, StatusCode)] = [
        (.malformedCallStart, .internal),
        (.malformedCallEnd, .internal),
        (.invalidMethodName, .invalidArgument),
        (.invalidUTF8, .internal),
        (.metadataTooLarge, .resourceExhausted),
        (.tooManyMetadataEntries, .resourceExhausted),
        (.invalidMetadataKey, .invalidArgument),
        (.reservedMetadataKey, .invalidArgument),
        (.invalidMetadataValue, .invalidArgument),
        (.messageTooLarge, .resourceExhausted),
        (.decompressedMessageTooLarge, .resourceExhausted),
        (.corruptCompressedData, .internal),
        (.unsupportedEncoding, .unimplemented),
        (.compressedWithoutEncoding, .internal),
    ]

    @Test("connection errors map to their goaway code", arguments: connectionErrors)
    func connectionError(code: WireError.Code, goAway: GoAwayCode) {
        let error = WireError(code, "why")
        #expect(error.goAwayCode == goAway)
        #expect(error.statusCode == nil)
        #expect(error.isConnectionError)
    }

    @Test("stream errors map to their status", arguments: streamErrors)
    func streamError(code: WireError.Code, status: StatusCode) {
        let error = WireError(code, "why")
        #expect(error.statusCode == status)
        #expect(error.goAwayCode == nil)
        #expect(!error.isConnectionError)
    }

    @Test("the lists above cover every code, each once")
    func everyCodeCovered() {
        let codes = Self.connectionErrors.map(\.0) + Self.streamErrors.map(\.0)
        #expect(Set(codes).count == codes.count)
        #expect(codes.count == 30)
    }

    @Test("description is code: message")
    func description() {
        #expect(WireError(.frameTooLarge, "A frame declares too much.").description == "frameTooLarge: A frame declares too much.")
    }
}
