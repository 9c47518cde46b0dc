import Instrumentation
import ServiceContextModule
import Wire

/// The ``PropagatedKey``s a client injects into its calls' metadata and a server extracts into
/// ``CallContext/serviceContext``; registering two keys with one wire name fails, naming both Swift types.
///
/// Give the client and the server of a service the same set, so a value a handler received travels on to the
/// calls it makes.
public struct PropagatedKeys: Sendable {
    /// In registration order, each wire name once.
    private var keys: [any PropagatedKey.Type] = []

    /// No keys: only the instrument's trace context crosses a hop.
    public init() {}

    /// The given keys, registered in order.
    /// - Throws: ``PropagatedKeyRegistrationError`` for a wire name taken by another key or not a valid metadata key.
    public init(_ keys: [any PropagatedKey.Type]) throws(PropagatedKeyRegistrationError) {
        for key in keys { try self.register(key) }
    }

    /// Adds `key`; registering the same type again changes nothing (two modules may both list a shared key).
    /// - Throws: ``PropagatedKeyRegistrationError`` when another key already travels as `key.wireName`, or the name
    ///   breaks the metadata key rules (including the runtime's reserved `drpc-` prefix).
    public mutating func register(_ key: any PropagatedKey.Type) throws(PropagatedKeyRegistrationError) {
        let wireName = key.wireName
        if let existing = self.keys.first(where: { $0.wireName == wireName }) {
            if ObjectIdentifier(existing) == ObjectIdentifier(key) { return }
            throw .duplicateWireName(wireName, registered: existing.typeName, registering: key.typeName)
        }
        if let error = Metadata.validate(key: wireName, value: wireName.hasSuffix("-bin") ? .binary([]) : .string("")) {
            throw .invalidWireName(wireName, key: key.typeName, reason: error.message)
        }
        self.keys.append(key)
    }

    /// Whether no key is registered (the call path then does nothing for propagated keys).
    public var isEmpty: Bool { self.keys.isEmpty }

    /// The registered wire names, in registration order.
    public var wireNames: [String] { self.keys.map { $0.wireName } }

    /// The key registered for `wireName`, if any.
    func key(forWireName wireName: String) -> (any PropagatedKey.Type)? {
        self.keys.first { $0.wireName == wireName }
    }

    /// Writes every registered key that `context` holds.
    func inject(from context: ServiceContext, into carrier: inout InjectionCarrier) {
        for key in self.keys { key.inject(from: context, into: &carrier) }
    }

    /// Runs the server's instrument, then reads every registered key the request carries into `context`.
    /// - Throws: `invalidArgument` when the instrument reads a registered key's wire name (a server configuration
    ///   error, reported on every call so it cannot go unnoticed), a value does not decode, or a key comes twice.
    func extract(from metadata: Metadata, into context: inout ServiceContext, after instrument: any Instrument) throws(RPCError) {
        let extractor = OverlapCheckingExtractor(keys: self)
        instrument.extract(metadata, into: &context, using: extractor)
        if let owner = extractor.log.overlap.withLock({ $0 }) {
            throw RPCError(
                code: .invalidArgument,
                message: "Request metadata key '\(owner.wireName)' is read by both this server's instrument \(readableTypeName(type(of: instrument))) and propagated key \(owner.typeName); the handler did not run. Give \(owner.typeName) another wireName."
            )
        }
        for key in self.keys { try key.extract(from: metadata, into: &context) }
    }
}
