import NIOCore
import Testing

@testable import Wire

@Suite("Settings and WireLimits", .timeLimit(.minutes(5)))
struct SettingsTests {
    @Test("the defaults are the documented ones, and Settings(limits:) advertises exactly the limits")
    func defaults() {
        let settings = Settings.default
        #expect(settings.maxFrameSize == 16 * 1024)
        #expect(settings.maxConcurrentStreams == 100)
        #expect(settings.initialStreamCredit == 64 * 1024)
        #expect(settings.maxMessageSize == 4 * 1024 * 1024)
        #expect(settings.maxMetadataSize == 8 * 1024)
        #expect(settings.maxMetadataEntries == 64)
        #expect(settings.acceptedEncodings == 0x3)
        #expect(Settings(limits: .default) == .default)

        let limits = WireLimits(maxFrameSize: 4096, maxMessageSize: 1000, maxMetadataSize: 200, maxMetadataEntries: 3)
        let advertised = Settings(limits: limits, maxConcurrentStreams: 7, initialStreamCredit: 9, acceptedEncodings: 0)
        #expect(advertised == Settings(maxFrameSize: 4096, maxConcurrentStreams: 7, initialStreamCredit: 9, maxMessageSize: 1000, maxMetadataSize: 200, maxMetadataEntries: 3, acceptedEncodings: 0))
    }

    @Test("WireLimits clamps each value into its valid range")
    func limitsClamp() {
        let low = WireLimits(maxFrameSize: 0, maxMessageSize: -1, maxMetadataSize: -5, maxMetadataEntries: -1)
        #expect(low == WireLimits(maxFrameSize: 1024, maxMessageSize: 0, maxMetadataSize: 0, maxMetadataEntries: 0))
        let high = WireLimits(maxFrameSize: .max, maxMessageSize: .max, maxMetadataSize: .max, maxMetadataEntries: .max)
        #expect(high.maxFrameSize == WireLimits.maximumFrameSize)
        #expect(high.maxMessageSize == Int(UInt32.max))
        #expect(high.maxMetadataSize == Int(UInt32.max))
        #expect(high.maxMetadataEntries == Int(UInt16.max))
        // Clamped limits always make encodable settings that a peer accepts.
        for limits in [low, high] {
            #expect(throws: Never.self) { try decodeAll(connectionStart(settings: Settings(limits: limits)), expectPreface: true) }
        }
    }

    @Test("the encoded SETTINGS frame lists every setting in identifier order")
    func encodedBytes() {
        let bytes = encoded(.settings(Settings(maxFrameSize: 0x4000, maxConcurrentStreams: 1, initialStreamCredit: 2, maxMessageSize: 3, maxMetadataSize: 4, maxMetadataEntries: 5, acceptedEncodings: 6)))
        #expect(Array(bytes.prefix(10)) == [0, 0, 0, 42, 0x00, 0, 0, 0, 0, 0])
        #expect(
            Array(bytes.dropFirst(10))
                == [0, 1, 0, 0, 0x40, 0] + [0, 2, 0, 0, 0, 1] + [0, 3, 0, 0, 0, 2] + [0, 4, 0, 0, 0, 3]
                + [0, 5, 0, 0, 0, 4] + [0, 6, 0, 0, 0, 5] + [0, 7, 0, 0, 0, 6]
        )
    }

    @Test("an empty SETTINGS frame means every default")
    func emptySettings() throws {
        #expect(try decodeAll(prefaceBytes() + RawFrame.settings([]), expectPreface: true) == [.frame(.settings(.default))])
    }

    @Test("settings left out keep their defaults; unknown identifiers are ignored; a repeated one takes its last value")
    func partialSettings() throws {
        let frames = try decodeAll(prefaceBytes() + RawFrame.settings([(0x2, 5), (0x0, 99), (0x99, 1), (0xFFFF, 7), (0x2, 6)]), expectPreface: true)
        var expected = Settings.default
        expected.maxConcurrentStreams = 6
        #expect(frames == [.frame(.settings(expected))])
    }

    @Test("boundary values of each setting are accepted")
    func boundaryValues() throws {
        let entries: [(UInt16, UInt32)] = [
            (Settings.Identifier.maxFrameSize, 1024), (Settings.Identifier.maxFrameSize, 16 * 1024 * 1024),
            (Settings.Identifier.maxConcurrentStreams, 0), (Settings.Identifier.maxConcurrentStreams, .max),
            (Settings.Identifier.initialStreamCredit, 0), (Settings.Identifier.initialStreamCredit, 0x7FFF_FFFF),
            (Settings.Identifier.maxMessageSize, 0), (Settings.Identifier.maxMessageSize, .max),
            (Settings.Identifier.maxMetadataSize, 0), (Settings.Identifier.maxMetadataSize, .max),
            (Settings.Identifier.maxMetadataEntries, 0), (Settings.Identifier.maxMetadataEntries, 65_535),
            (Settings.Identifier.acceptedEncodings, 0), (Settings.Identifier.acceptedEncodings, .max),
        ]
        for entry in entries {
            #expect(throws: Never.self, "setting \(entry.0) = \(entry.1)") {
                try decodeAll(prefaceBytes() + RawFrame.settings([entry]), expectPreface: true)
            }
        }
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var identifier: UInt16
        var value: UInt32
        var testDescription: String { "setting \(identifier) = \(value)" }
    }

    static let invalid: [Invalid] = [
        Invalid(identifier: Settings.Identifier.maxFrameSize, value: 0),
        Invalid(identifier: Settings.Identifier.maxFrameSize, value: 1023),
        Invalid(identifier: Settings.Identifier.maxFrameSize, value: 16 * 1024 * 1024 + 1),
        Invalid(identifier: Settings.Identifier.maxFrameSize, value: .max),
        Invalid(identifier: Settings.Identifier.initialStreamCredit, value: 0x8000_0000),
        Invalid(identifier: Settings.Identifier.initialStreamCredit, value: .max),
        Invalid(identifier: Settings.Identifier.maxMetadataEntries, value: 65_536),
        Invalid(identifier: Settings.Identifier.maxMetadataEntries, value: .max),
    ]

    @Test("a setting outside its range is a connection error", arguments: invalid)
    func invalidSetting(_ testCase: Invalid) {
        let error = expectWireError(.invalidSetting) {
            try decodeAll(prefaceBytes() + RawFrame.settings([(Settings.Identifier.maxConcurrentStreams, 1), (testCase.identifier, testCase.value)]), expectPreface: true)
        }
        #expect(error?.goAwayCode == .protocolError)
    }

    @Test("a SETTINGS length that is not a multiple of 6 is refused from the header", arguments: [1, 5, 7, 11, 41, 43])
    func lengthNotMultipleOfSix(length: Int) {
        var decoder = FrameDecoder()
        decoder.append(contentsOf: prefaceBytes() + RawFrame.header(length: UInt32(length), type: FrameType.settings.rawValue, streamID: 0))
        let error = expectWireError(.badFrameLength) { try decoder.nextFrame() }
        #expect(error?.goAwayCode == .frameSizeError)
    }

    @Test("a SETTINGS frame of 32 entries is accepted; 33 are refused from the header")
    func tooManyEntries() throws {
        let thirtyTwo = Array(repeating: (UInt16(0x2), UInt32(3)), count: Settings.maxEntries)
        var expected = Settings.default
        expected.maxConcurrentStreams = 3
        #expect(try decodeAll(prefaceBytes() + RawFrame.settings(thirtyTwo), expectPreface: true) == [.frame(.settings(expected))])

        var decoder = FrameDecoder()
        decoder.append(contentsOf: prefaceBytes() + RawFrame.header(length: UInt32(6 * (Settings.maxEntries + 1)), type: FrameType.settings.rawValue, streamID: 0))
        expectWireError(.badFrameLength) { try decoder.nextFrame() }
    }

    @Test("accepts(_:) follows the acceptedEncodings bits; identity is always accepted and unknown encodings never")
    func accepts() {
        #expect(Settings.default.accepts(.identity))
        #expect(Settings.default.accepts(.gzip))
        #expect(Settings.default.accepts(.deflate))
        let gzipOnly = Settings(acceptedEncodings: MessageEncoding.gzip.settingsBit)
        #expect(gzipOnly.accepts(.gzip))
        #expect(!gzipOnly.accepts(.deflate))
        let none = Settings(acceptedEncodings: 0)
        #expect(none.accepts(.identity))
        #expect(!none.accepts(.gzip))
        let all = Settings(acceptedEncodings: .max)
        #expect(!all.accepts(MessageEncoding(rawValue: 3)))
        #expect(!all.accepts(MessageEncoding(rawValue: 255)))
        #expect(MessageEncoding.identity.settingsBit == 0)
    }
}
