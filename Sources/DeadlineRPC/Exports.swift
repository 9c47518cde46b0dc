import NIOCore
import NIOPosix
import Wire

/// Request or trailing metadata: typed, validated key-value pairs (see `Wire.Metadata`).
public typealias Metadata = Wire.Metadata
/// The typed reason carried by a cancel: client cancelled, deadline exceeded, shutting down, sibling failed, …
public typealias CancelReason = Wire.CancelReason
/// A stream's message compression (identity, gzip, deflate).
public typealias MessageEncoding = Wire.MessageEncoding
/// Frame, message and metadata size limits enforced on receipt.
public typealias WireLimits = Wire.WireLimits
/// Two writers for one metadata key: what `Metadata.insert` throws, and the cause of the `invalidArgument` a call
/// fails with when a propagator and the caller (or two propagators) write the same key.
public typealias MetadataCollision = Wire.MetadataCollision
/// The threads a client or server runs on (`RPCClient`/`RPCServer` take one), nameable without importing NIOCore.
public typealias EventLoopGroup = NIOCore.EventLoopGroup
/// SwiftNIO's event loop group, to give a client or server its own threads without importing NIOPosix.
public typealias MultiThreadedEventLoopGroup = NIOPosix.MultiThreadedEventLoopGroup
