import Wire

/// The outcome of a call: a code and a message. Successful calls end with ``Status/ok``.
public struct Status: Sendable, Hashable, CustomStringConvertible {
    /// The 17 gRPC codes, with their numbers.
    public typealias Code = Wire.StatusCode

    /// The code.
    public var code: Code
    /// A human-readable message.
    public var message: String

    /// Creates a status.
    public init(code: Code, message: String = "") {
        self.code = code
        self.message = message
    }

    /// Success.
    public static let ok = Status(code: .ok)

    /// `CODE: message`.
    public var description: String { message.isEmpty ? "\(code)" : "\(code): \(message)" }
}
