/// The `grpc-timeout` request header, which a grpc-swift-2 handler must parse by hand to learn its budget:
/// `ServerContext` has no deadline, but the transport passes every request header through as metadata.
enum GRPCTimeoutHeader {
    /// The header's name.
    static let name = "grpc-timeout"

    /// Parses `1..8 ASCII digits` + unit (`H`, `M`, `S`, `m`, `u`, `n`); nil for anything else.
    static func parse(_ text: String) -> Duration? {
        guard let unit = text.last, text.count >= 2, text.count <= 9 else { return nil }
        let digits = text.dropLast()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let amount = Int64(digits) else { return nil }
        switch unit {
        case "H": return .seconds(amount * 3_600)
        case "M": return .seconds(amount * 60)
        case "S": return .seconds(amount)
        case "m": return .milliseconds(amount)
        case "u": return .microseconds(amount)
        case "n": return .nanoseconds(amount)
        default: return nil
        }
    }
}
