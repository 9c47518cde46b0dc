/// What reflection says about one method a server serves: enough for a tool (`drpc`) to call it without compiled
/// types. Its JSON form is the `MethodDescriptor` message of `docs/PROTOCOL.md`, "Reflection service".
public struct MethodDescriptor: Sendable, Hashable, Codable {
    /// The full method name, e.g. `greeter.Greeter/Greet`.
    public var name: String
    /// The call shape.
    public var kind: CallKind
    /// The request codec's ``MessageCodec/encodingName`` (`json`, `protobuf`, `raw`, `custom`).
    public var requestEncoding: String
    /// The response codec's ``MessageCodec/encodingName``.
    public var responseEncoding: String
    /// Whether a call may ask for the messages' JSON form (``JSONTranscoding``): both codecs are
    /// ``JSONTranscodingCodec``s.
    public var acceptsJSON: Bool
    /// The method's default timeout, if it declares one.
    public var defaultTimeout: Duration?
    /// Whether repeating a call is harmless (only idempotent methods are retried).
    public var isIdempotent: Bool

    /// Creates a descriptor.
    public init(
        name: String,
        kind: CallKind,
        requestEncoding: String,
        responseEncoding: String,
        acceptsJSON: Bool,
        defaultTimeout: Duration? = nil,
        isIdempotent: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.requestEncoding = requestEncoding
        self.responseEncoding = responseEncoding
        self.acceptsJSON = acceptsJSON
        self.defaultTimeout = defaultTimeout
        self.isIdempotent = isIdempotent
    }

    /// The descriptor of `method` as a server registers it.
    public init<Request, Response>(_ method: Method<Request, Response>) {
        self.init(
            name: method.name,
            kind: method.kind,
            requestEncoding: method.requestCodec.encodingName,
            responseEncoding: method.responseCodec.encodingName,
            acceptsJSON: CallCodecs(method).acceptsJSON,
            defaultTimeout: method.defaultTimeout,
            isIdempotent: method.isIdempotent
        )
    }

    private enum CodingKeys: String, CodingKey {
        case name, kind, requestEncoding, responseEncoding, acceptsJSON, defaultTimeoutMilliseconds, idempotent
    }

    /// Decodes the `MethodDescriptor` message; an unknown kind is refused.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kindName = try container.decode(String.self, forKey: .kind)
        guard let kind = CallKind(name: kindName) else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "Unknown call kind '\(kindName)'.")
        }
        self.name = try container.decode(String.self, forKey: .name)
        self.kind = kind
        self.requestEncoding = try container.decode(String.self, forKey: .requestEncoding)
        self.responseEncoding = try container.decode(String.self, forKey: .responseEncoding)
        self.acceptsJSON = try container.decodeIfPresent(Bool.self, forKey: .acceptsJSON) ?? false
        // Whole milliseconds on the wire would lose a 1.5 ms timeout; a Double keeps microseconds exactly enough.
        self.defaultTimeout = try container.decodeIfPresent(Double.self, forKey: .defaultTimeoutMilliseconds).map {
            .nanoseconds(Int64(($0 * 1_000_000).rounded()))
        }
        self.isIdempotent = try container.decodeIfPresent(Bool.self, forKey: .idempotent) ?? false
    }

    /// Encodes the `MethodDescriptor` message (an absent default timeout is omitted).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.kind.description, forKey: .kind)
        try container.encode(self.requestEncoding, forKey: .requestEncoding)
        try container.encode(self.responseEncoding, forKey: .responseEncoding)
        try container.encode(self.acceptsJSON, forKey: .acceptsJSON)
        if let timeout = self.defaultTimeout {
            try container.encode(Double(timeout.nanoseconds) / 1_000_000, forKey: .defaultTimeoutMilliseconds)
        }
        try container.encode(self.isIdempotent, forKey: .idempotent)
    }
}

extension CallKind {
    /// The kind named by ``description`` (`unary`, `server-streaming`, `client-streaming`, `bidirectional`).
    public init?(name: String) {
        switch name {
        case "unary": self = .unary
        case "server-streaming": self = .serverStreaming
        case "client-streaming": self = .clientStreaming
        case "bidirectional": self = .bidirectional
        default: return nil
        }
    }
}
