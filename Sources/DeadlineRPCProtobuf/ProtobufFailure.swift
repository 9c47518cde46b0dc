import DeadlineRPC
import SwiftProtobuf

/// Turns swift-protobuf's errors into `RPCError`s whose message names the message type, the form and the reason.
enum ProtobufFailure {
    /// A payload that is not a valid message: `invalidArgument`, the status a malformed request deserves.
    static func decoding<M: SwiftProtobuf.Message>(
        _ type: M.Type,
        _ form: String,
        _ error: any Error,
        subject: String = "The payload"
    ) -> RPCError {
        RPCError(
            code: .invalidArgument,
            message: "\(subject) is not a valid \(form) \(M.protoMessageName) message: \(Self.reason(error)).",
            cause: error
        )
    }

    /// A message that cannot be written (a proto2 required field unset): `internal`, the sender's own fault.
    static func encoding<M: SwiftProtobuf.Message>(_ type: M.Type, _ form: String, _ error: any Error) -> RPCError {
        RPCError(
            code: .internal,
            message: "A \(M.protoMessageName) message could not be encoded as \(form): \(Self.reason(error)).",
            cause: error
        )
    }

    /// A sender-chosen name, cut to 64 characters: a reason goes into logs and the status, not a megabyte of key.
    static func clipped(_ name: String) -> String {
        name.count <= 64 ? name : String(name.prefix(64)) + "…"
    }

    /// A short reason for each error swift-protobuf throws (its own descriptions are case names).
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as BinaryDecodingError:
            switch error {
            case .truncated: return "the data ends inside a field"
            case .malformedProtobuf: return "the data is not protobuf (a bad tag, wire type or length)"
            case .invalidUTF8: return "a string field is not valid UTF-8"
            case .missingRequiredFields: return "required fields are missing"
            case .messageDepthLimit: return "messages are nested deeper than the decoding limit"
            case .trailingGarbage: return "bytes follow the message"
            default: return "\(error)"
            }
        case let error as JSONDecodingError:
            switch error {
            case .unknownField(let name): return "unknown field '\(Self.clipped(name))'"
            case .truncated: return "the JSON ends early (or is empty)"
            case .schemaMismatch: return "a value does not match its field's type"
            case .unrecognizedEnumValue: return "an enum value is not one of the enum's names or numbers"
            case .messageDepthLimit: return "objects are nested deeper than the decoding limit"
            case .trailingGarbage: return "characters follow the JSON object"
            default: return "malformed JSON (\(error))"
            }
        case let error as BinaryEncodingError:
            switch error {
            case .missingRequiredFields: return "required fields are missing"
            default: return "\(error)"
            }
        default:
            return "\(error)"
        }
    }
}
