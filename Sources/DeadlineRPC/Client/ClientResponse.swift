import NIOCore
import Wire

/// A single-response call's reply together with the trailing metadata the server sent with its status.
///
/// ``RPCClient/unary(_:_:options:)`` returns just the message; ``RPCClient/unaryResponse(_:_:options:)`` returns
/// this. A failed call's trailers travel in the thrown ``RPCError/metadata`` instead.
public struct ClientResponse<Message> {
    /// The response message.
    public var message: Message
    /// The server's trailing metadata (empty when it sent none).
    public var trailers: Metadata
    /// The server's verified TLS certificate on the connection the call went over (subject, SANs, chain); nil on
    /// plaintext. Shows which certificate a server presented, e.g. across a rotation.
    public var peer: PeerIdentity?

    /// Creates a response.
    public init(message: Message, trailers: Metadata, peer: PeerIdentity? = nil) {
        self.message = message
        self.trailers = trailers
        self.peer = peer
    }
}

extension ClientResponse: Sendable where Message: Sendable {}

/// What a single-response call's continuation receives: the message bytes and the trailers, taken together on the
/// event loop when the call ends.
struct SingleResponse: Sendable {
    var message: ByteBuffer
    var trailers: Metadata
    var peer: PeerIdentity? = nil
}
