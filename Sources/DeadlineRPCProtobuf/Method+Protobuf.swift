import DeadlineRPC
import SwiftProtobuf

extension Method where Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message {
    /// A method whose messages are protobuf messages, encoded with ``ProtobufCodec``.
    public init(_ name: String, kind: CallKind, defaultTimeout: Duration? = nil, isIdempotent: Bool = false) {
        self.init(
            name,
            kind: kind,
            requestCodec: ProtobufCodec<Request>(),
            responseCodec: ProtobufCodec<Response>(),
            defaultTimeout: defaultTimeout,
            isIdempotent: isIdempotent
        )
    }

    /// A unary method with protobuf messages.
    public static func unary(_ name: String, defaultTimeout: Duration? = nil, isIdempotent: Bool = false) -> Self {
        Self(name, kind: .unary, defaultTimeout: defaultTimeout, isIdempotent: isIdempotent)
    }
    /// A server-streaming method with protobuf messages.
    public static func serverStreaming(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .serverStreaming, defaultTimeout: defaultTimeout)
    }
    /// A client-streaming method with protobuf messages.
    public static func clientStreaming(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .clientStreaming, defaultTimeout: defaultTimeout)
    }
    /// A bidirectional-streaming method with protobuf messages.
    public static func bidirectional(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .bidirectional, defaultTimeout: defaultTimeout)
    }
}

// A type that is both a protobuf message and `Codable` would make the two families above ambiguous; these, being
// more constrained than either, win and pick protobuf (the schema the message came from). For JSON on such a type,
// pass `JSONCodec` to `Method.init(_:kind:requestCodec:responseCodec:)`.
extension Method
where Request: SwiftProtobuf.Message & Codable, Response: SwiftProtobuf.Message & Codable {
    /// A method whose messages are both protobuf and `Codable`: encoded with ``ProtobufCodec``.
    public init(_ name: String, kind: CallKind, defaultTimeout: Duration? = nil, isIdempotent: Bool = false) {
        self.init(
            name,
            kind: kind,
            requestCodec: ProtobufCodec<Request>(),
            responseCodec: ProtobufCodec<Response>(),
            defaultTimeout: defaultTimeout,
            isIdempotent: isIdempotent
        )
    }

    /// A unary method, protobuf-encoded.
    public static func unary(_ name: String, defaultTimeout: Duration? = nil, isIdempotent: Bool = false) -> Self {
        Self(name, kind: .unary, defaultTimeout: defaultTimeout, isIdempotent: isIdempotent)
    }
    /// A server-streaming method, protobuf-encoded.
    public static func serverStreaming(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .serverStreaming, defaultTimeout: defaultTimeout)
    }
    /// A client-streaming method, protobuf-encoded.
    public static func clientStreaming(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .clientStreaming, defaultTimeout: defaultTimeout)
    }
    /// A bidirectional-streaming method, protobuf-encoded.
    public static func bidirectional(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .bidirectional, defaultTimeout: defaultTimeout)
    }
}
