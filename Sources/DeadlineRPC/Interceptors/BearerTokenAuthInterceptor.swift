/// Refuses calls that do not carry an accepted bearer token (`authorization: Bearer <token>` metadata) with
/// `unauthenticated`, before the request is decoded or the handler runs.
///
/// ```swift
/// configuration.interceptors = [BearerTokenAuthInterceptor(acceptedTokens: ["s3cret"])]
/// ```
public struct BearerTokenAuthInterceptor: ServerInterceptor {
    /// Decides whether a token is valid for the call (e.g. checks a signature or asks an identity service; any
    /// outbound call it makes inherits the call's deadline).
    public typealias Validator = @Sendable (_ token: String, _ context: CallContext) async throws -> Bool

    /// Methods served without a token (health checks, for instance).
    public var exemptMethods: Set<String>
    private let validate: Validator

    /// Accepts the tokens `validate` approves.
    public init(exemptMethods: Set<String> = [], validate: @escaping Validator) {
        self.exemptMethods = exemptMethods
        self.validate = validate
    }

    /// Accepts a fixed set of tokens, compared in constant time so a token cannot be guessed byte by byte.
    public init(acceptedTokens: Set<String>, exemptMethods: Set<String> = []) {
        let accepted = acceptedTokens.map { Array($0.utf8) }
        self.init(exemptMethods: exemptMethods) { token, _ in
            let candidate = Array(token.utf8)
            var match = false
            for secret in accepted where Self.constantTimeEquals(secret, candidate) { match = true }
            return match
        }
    }

    /// Checks the token, then runs the handler.
    public func intercept(_ context: CallContext, next: (CallContext) async throws -> Void) async throws {
        if self.exemptMethods.contains(context.method) {
            return try await next(context)
        }
        guard let header = context.metadata.first(forKey: "authorization") else {
            throw RPCError(
                code: .unauthenticated,
                message: "The call carries no credentials: send the metadata 'authorization: Bearer <token>'."
            )
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            throw RPCError(code: .unauthenticated, message: "The 'authorization' metadata is not a bearer token ('Bearer <token>').")
        }
        let token = String(header.dropFirst(prefix.count))
        guard try await self.validate(token, context) else {
            throw RPCError(code: .unauthenticated, message: "The bearer token was not accepted.")
        }
        try await next(context)
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// Sends a bearer token with every call (`authorization: Bearer <token>`), asking `token` for it each time so it
/// can be refreshed.
public struct BearerTokenCredentials: ClientInterceptor {
    private let token: @Sendable () async throws -> String

    /// Sends the token `token` returns.
    public init(token: @escaping @Sendable () async throws -> String) {
        self.token = token
    }

    /// Sends a fixed token.
    public init(token: String) {
        self.init { token }
    }

    /// Adds the credentials, then makes the call.
    /// - Throws: `invalidArgument`, sending nothing, when the call's metadata already has an `authorization`: one of
    ///   the two tokens would be dropped silently.
    public func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        var call = call
        do {
            try call.metadata.insert(.string("Bearer \(try await self.token())"), forKey: "authorization")
        } catch let collision as MetadataCollision {
            let cause = MetadataCollision(key: collision.key, writers: ["the call's metadata (CallOptions.metadata or an outer client interceptor)", "BearerTokenCredentials"])
            throw RPCError(
                code: .invalidArgument,
                message: "\(cause) Nothing was sent. Remove 'authorization' from the call's metadata, or BearerTokenCredentials from this client's interceptors.",
                cause: cause
            )
        }
        return try await next(call)
    }
}
