/// Why ``PropagatedKeys/register(_:)`` refused a key: found when the configuration is built, before any call.
public enum PropagatedKeyRegistrationError: Error, Hashable, CustomStringConvertible {
    /// Another key already travels under this wire name: both values would land in one metadata entry.
    case duplicateWireName(String, registered: String, registering: String)
    /// The wire name is not a valid metadata key for a user (syntax, or the runtime's reserved prefix).
    case invalidWireName(String, key: String, reason: String)

    /// Names the keys and the fix.
    public var description: String {
        switch self {
        case .duplicateWireName(let wireName, let registered, let registering):
            return "Propagated keys \(registered) and \(registering) both travel as metadata '\(wireName)'; give one of them another wireName (e.g. prefixed with its module: '<module>.\(wireName)')."
        case .invalidWireName(let wireName, let key, let reason):
            return "Propagated key \(key) has wire name '\(wireName)', which is not a valid metadata key: \(reason)"
        }
    }
}
