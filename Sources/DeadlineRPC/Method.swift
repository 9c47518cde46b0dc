import Wire
import NIOCore

/// The four shapes of call.
public enum CallKind: Sendable, Hashable, CustomStringConvertible {
    /// One request, one response.
    case unary
    /// One request, a stream of responses.
    case serverStreaming
    /// A stream of requests, one response.
    case clientStreaming
    /// Streams both ways.
    case bidirectional

    /// Whether the client sends exactly one request.
    public var singleRequest: Bool { self == .unary || self == .serverStreaming }
    /// Whether the server sends exactly one response.
    public var singleResponse: Bool { self == .unary || self == .clientStreaming }

    /// The kind's name.
    public var description: String {
        switch self {
        case .unary: return "unary"
        case .serverStreaming: return "server-streaming"
        case .clientStreaming: return "client-streaming"
        case .bidirectional: return "bidirectional"
        }
    }
}

/// A method as a value shared by client and server: its name, kind and message types, and how messages become
/// bytes. No code generator: declare it once, register a handler for it on the server, call it on the client.
///
/// ```swift
/// struct Greeting: Codable, Sendable { var text: String }
/// let greet = Method<Greeting, Greeting>.unary("greeter.Greeter/Greet")
/// ```
public struct Method<Request: Sendable, Response: Sendable>: Sendable {
    /// The full name on the wire, e.g. `greeter.Greeter/Greet`.
    public let name: String
    /// The call shape.
    public let kind: CallKind
    /// How requests become bytes and back.
    public let requestCodec: any MessageCodec<Request>
    /// How responses become bytes and back.
    public let responseCodec: any MessageCodec<Response>
    /// A default timeout for calls of this method: the effective deadline is the earliest of this, the caller's
    /// explicit timeout and the inherited deadline.
    public var defaultTimeout: Duration?
    /// Whether repeating the call is harmless; only idempotent methods are retried.
    public var isIdempotent: Bool

    /// Creates a method with explicit codecs.
    public init(
        _ name: String,
        kind: CallKind,
        requestCodec: any MessageCodec<Request>,
        responseCodec: any MessageCodec<Response>,
        defaultTimeout: Duration? = nil,
        isIdempotent: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.requestCodec = requestCodec
        self.responseCodec = responseCodec
        self.defaultTimeout = defaultTimeout
        self.isIdempotent = isIdempotent
    }
}

extension Method where Request: Codable, Response: Codable {
    /// A method whose messages are `Codable`, encoded with ``JSONCodec``.
    public init(_ name: String, kind: CallKind, defaultTimeout: Duration? = nil, isIdempotent: Bool = false) {
        self.init(
            name,
            kind: kind,
            requestCodec: JSONCodec<Request>(),
            responseCodec: JSONCodec<Response>(),
            defaultTimeout: defaultTimeout,
            isIdempotent: isIdempotent
        )
    }

    /// A unary method with `Codable` messages.
    public static func unary(_ name: String, defaultTimeout: Duration? = nil, isIdempotent: Bool = false) -> Self {
        Self(name, kind: .unary, defaultTimeout: defaultTimeout, isIdempotent: isIdempotent)
    }
    /// A server-streaming method with `Codable` messages.
    public static func serverStreaming(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .serverStreaming, defaultTimeout: defaultTimeout)
    }
    /// A client-streaming method with `Codable` messages.
    public static func clientStreaming(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .clientStreaming, defaultTimeout: defaultTimeout)
    }
    /// A bidirectional-streaming method with `Codable` messages.
    public static func bidirectional(_ name: String, defaultTimeout: Duration? = nil) -> Self {
        Self(name, kind: .bidirectional, defaultTimeout: defaultTimeout)
    }
}

extension Method where Request == ByteBuffer, Response == ByteBuffer {
    /// A method whose messages are raw bytes, passed through untouched.
    public static func raw(_ name: String, kind: CallKind, defaultTimeout: Duration? = nil, isIdempotent: Bool = false)
        -> Self
    {
        Self(
            name,
            kind: kind,
            requestCodec: RawBytesCodec(),
            responseCodec: RawBytesCodec(),
            defaultTimeout: defaultTimeout,
            isIdempotent: isIdempotent
        )
    }
}
