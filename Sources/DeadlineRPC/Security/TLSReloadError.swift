/// Why certificate material could not be (re)loaded: the runtime keeps the material it had, logs a warning naming
/// the cause and the file, and counts it (``TLSReloadStats``). Thrown by `RPCServer.reloadTLS()` and
/// `RPCClient.reloadTLS()`.
public struct TLSReloadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of failure, each a counter's `cause` label.
    public enum Cause: String, Sendable, Hashable, CaseIterable {
        /// A configured file does not exist (yet): `missing_file`.
        case missingFile = "missing_file"
        /// A file exists but cannot be read (permissions, I/O error), or is larger than the 4 MiB limit: `unreadable_file`.
        case unreadableFile = "unreadable_file"
        /// A file (or PEM text) holds no certificate or key that parses: `invalid_pem`.
        case invalidPEM = "invalid_pem"
        /// The private key does not belong to the chain's leaf certificate: `key_mismatch`.
        case keyMismatch = "key_mismatch"
        /// A certificate of the chain is past its `notValidAfter`: `certificate_expired`.
        case certificateExpired = "certificate_expired"
        /// A certificate of the chain is before its `notValidBefore`: `certificate_not_yet_valid`.
        case certificateNotYetValid = "certificate_not_yet_valid"
        /// swift-nio-ssl refused the material for another reason: `unusable`.
        case unusable = "unusable"
    }

    /// What went wrong.
    public var cause: Cause
    /// The file concerned, when the material came from one.
    public var file: String?
    /// A sentence naming the cause and the file.
    public var message: String

    /// Creates an error (the runtime makes these; public for tests of code that handles them).
    public init(cause: Cause, file: String?, message: String) {
        self.cause = cause
        self.file = file
        self.message = message
    }

    /// The message: what failed, and in which file.
    public var description: String { self.message }
}
