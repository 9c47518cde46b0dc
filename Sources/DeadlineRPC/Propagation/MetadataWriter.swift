/// Who put an entry into a call's request metadata, so a collision can name both writers.
enum MetadataWriter: Sendable {
    /// `CallOptions.metadata`, as the client interceptors left it.
    case caller
    /// The configured `Instrument` (or `InstrumentationSystem.instrument`); the client names its type.
    case instrument
    /// A registered ``PropagatedKey``.
    case propagatedKey(any PropagatedKey.Type)
}
