import ArgumentParser
import DeadlineRPC
import Foundation

/// What drpc prints and how it exits: text for people (responses on standard output, `ERROR: CODE: message` on
/// standard error, `-v` details after the responses), or one JSON document on standard output with `--json`.
enum Output {
    /// Prints one line of text to standard output.
    static func line(_ text: String) {
        print(text)
    }

    /// Prints one line to standard error.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Ends a command: prints the `--json` document (`payload` and the report's fields) or the text epilogue, then
    /// exits with `exitCode` (by default the status family's, ``DRPCExit``).
    static func finish(_ report: CallReport, _ options: ConnectionOptions, payload: [String: Any] = [:], exitCode: Int32? = nil) throws {
        if options.json {
            Self.line(Self.json(payload.merging(report.jsonFields) { _, report in report }))
        } else {
            // Details first, the error line last: a terminal shows them in the order a test reads them (standard
            // output, then standard error).
            if options.verbose {
                for line in report.verboseLines { Self.line(line) }
            }
            if report.code != .ok {
                Self.error(report.message.isEmpty ? "ERROR: \(report.code)" : "ERROR: \(report.code): \(report.message)")
            }
        }
        let code = exitCode ?? DRPCExit.code(for: report.code)
        if code != DRPCExit.ok { throw ExitCode(code) }
    }

    /// Ends a command that failed with `error`: a call's status is reported as ``finish(_:_:payload:exitCode:)``
    /// does; a usage error prints `drpc: REASON` and exits 64.
    static func fail(_ error: any Error, _ options: ConnectionOptions, payload: [String: Any] = [:], budget: BudgetAttribution? = nil) throws -> Never {
        switch error {
        case let error as RPCError:
            try Self.finish(.failed(error, budget: budget), options, payload: payload)
            // A failed call always exits non-zero: `finish` threw.
            throw ExitCode(DRPCExit.other)
        case let error as DRPCUsageError:
            Self.error("drpc: \(error.reason)")
            throw ExitCode(DRPCExit.usage)
        case let error as ExitCode:
            throw error
        default:
            Self.error("drpc: \(error)")
            throw ExitCode(DRPCExit.other)
        }
    }

    /// `value` as one line of JSON, keys sorted (stable output for scripts and tests).
    static func json(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]) else {
            return "null"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// An `Encodable` value as a JSON object, for `--json` documents.
    static func object(_ value: some Encodable) throws -> Any {
        try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value), options: [.fragmentsAllowed])
    }

    /// A response message's text read as JSON (the text itself, when it is not JSON).
    static func jsonValue(ofResponse text: String) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
    }

    /// `250ms`, `1.5s`, `500µs`: a duration as people write it.
    static func format(_ duration: Duration) -> String {
        let nanoseconds = CallReport.milliseconds(duration) * 1_000_000
        if nanoseconds >= 1e9 && nanoseconds.truncatingRemainder(dividingBy: 1e6) == 0 {
            let seconds = nanoseconds / 1e9
            return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
        }
        if nanoseconds >= 1e6 {
            let ms = nanoseconds / 1e6
            return ms == ms.rounded() ? "\(Int(ms))ms" : "\(ms)ms"
        }
        return "\(Int(nanoseconds / 1e3))µs"
    }
}
