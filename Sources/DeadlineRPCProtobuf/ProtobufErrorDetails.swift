/// Where an error's protobuf details travel: one trailer, `status-details-bin`, holding a serialized
/// `google.protobuf.Any` (the type's URL and the message's bytes), like gRPC's `grpc-status-details-bin` but
/// carrying the details message itself rather than a `google.rpc.Status`.
///
/// A handler throws `RPCError(code:message:details:)`; the caller reads `error.details(as:)`.
public enum ProtobufErrorDetails {
    /// The trailer key (not under the runtime's reserved `drpc-` prefix, which handlers may not send).
    public static let metadataKey = "status-details-bin"
}
