import ServiceContextModule
import Wire

/// A `ServiceContext` key whose value travels to the next hop as one request metadata entry, declared once with
/// its wire name and codec; register it in ``PropagatedKeys`` on the client and server configurations.
///
/// ```swift
/// enum BillingUserID: PropagatedKey {
///     typealias Value = Int
///     static let wireName = "billing.user_id"
/// }
/// ```
///
/// A value whose type is `LosslessStringConvertible` (`String`, `Int`, `Bool`, …) needs no codec; other types
/// implement ``encode(_:)`` and ``decode(_:)``.
public protocol PropagatedKey: ServiceContextKey {
    /// The metadata key the value travels under: a lowercase token (`a-z 0-9 - _ .`) that does not start with
    /// `drpc-`; end it in `-bin` for a binary value. Unique among the keys registered together.
    static var wireName: String { get }
    /// The value as sent; it must satisfy the metadata rules (printable ASCII, or bytes under a `-bin` key), or
    /// the call fails with `invalidArgument` before anything is sent.
    static func encode(_ value: Value) -> Metadata.Value
    /// The value read back on the server; nil refuses the call with `invalidArgument` (the handler does not run).
    static func decode(_ wireValue: Metadata.Value) -> Value?
}

extension PropagatedKey where Value: LosslessStringConvertible {
    /// The value's `description`, as text.
    public static func encode(_ value: Value) -> Metadata.Value {
        .string(value.description)
    }

    /// `Value(text)`; nil for a binary entry or text the type does not accept.
    public static func decode(_ wireValue: Metadata.Value) -> Value? {
        guard case .string(let text) = wireValue else { return nil }
        return Value(text)
    }
}

extension PropagatedKey {
    /// The value in force here: `ServiceContext.current`'s, else that of the call being served.
    public static var current: Value? {
        (ServiceContext.current ?? CallContext.current?.serviceContext)?[Self.self]
    }

    /// Runs `operation` with `value` added to the current `ServiceContext` (that of the call being served when no
    /// other is set), so the calls it makes carry the value.
    public static func withValue<Result>(_ value: Value, _ operation: () async throws -> Result) async rethrows -> Result {
        var context = ServiceContext.current ?? CallContext.current?.serviceContext ?? .topLevel
        context[Self.self] = value
        return try await ServiceContext.withValue(context) { try await operation() }
    }
}

extension PropagatedKey {
    /// The key's Swift type as people write it (`Billing.UserID`), for error messages.
    static var typeName: String { readableTypeName(Self.self) }

    /// Writes this key's value, if the context has one, as the propagated-key writer.
    static func inject(from context: ServiceContext, into carrier: inout InjectionCarrier) {
        guard let value = context[Self.self] else { return }
        carrier.write(Self.encode(value), forKey: Self.wireName, by: .propagatedKey(Self.self))
    }

    /// Reads this key's entry, if the request has one, into `context`.
    static func extract(from metadata: Metadata, into context: inout ServiceContext) throws(RPCError) {
        var found: Metadata.Value? = nil
        for entry in metadata where entry.key == Self.wireName {
            guard found == nil else {
                throw RPCError(
                    code: .invalidArgument,
                    message: "Request metadata key '\(Self.wireName)' (propagated key \(Self.typeName)) appears more than once; a propagated key carries exactly one value."
                )
            }
            found = entry.value
        }
        guard let found else { return }
        guard let value = Self.decode(found) else {
            // The value itself is not echoed: it comes from the peer and may be up to 64 KiB.
            throw RPCError(
                code: .invalidArgument,
                message: "Request metadata '\(Self.wireName)' does not hold a valid \(readableTypeName(Value.self)) for propagated key \(Self.typeName)."
            )
        }
        context[Self.self] = value
    }
}
