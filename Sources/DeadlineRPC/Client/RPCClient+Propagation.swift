import Instrumentation
import Wire

extension RPCClient {
    /// The attempt's request metadata: the caller's entries, then what the instrument and the registered
    /// ``PropagatedKeys`` write from `serviceContext`.
    /// - Throws: `invalidArgument`, before anything is sent, when two writers want one key (the cause is a
    ///   `MetadataCollision` naming both) or an injected entry breaks the metadata rules.
    func propagating(into callerMetadata: Metadata, from serviceContext: ServiceContext?) throws(RPCError) -> Metadata {
        guard let serviceContext else { return callerMetadata }
        let instrument = self.configuration.instrument ?? InstrumentationSystem.instrument
        let keys = self.configuration.propagatedKeys
        var carrier = InjectionCarrier(callerMetadata: callerMetadata)
        instrument.inject(serviceContext, into: &carrier, using: MetadataInjector())
        if !keys.isEmpty { keys.inject(from: serviceContext, into: &carrier) }
        if let collision = carrier.collision {
            throw Self.collisionError(collision, instrument: instrument, serviceContext: serviceContext)
        }
        if let invalid = carrier.invalidEntry {
            let writer = Self.names(of: invalid.writer, instrument: instrument, serviceContext: serviceContext, key: nil).first!
            throw RPCError(
                code: .invalidArgument,
                message: "Invalid request metadata written by \(writer): \(invalid.error.message) Nothing was sent.",
                cause: invalid.error
            )
        }
        return carrier.metadata
    }

    /// The error for two writers of one key, naming both and what to change.
    private static func collisionError(
        _ collision: InjectionCarrier.Collision,
        instrument: any Instrument,
        serviceContext: ServiceContext
    ) -> RPCError {
        let key = collision.key
        var writers = Self.names(of: collision.first, instrument: instrument, serviceContext: serviceContext, key: key)
        if case .instrument = collision.first, case .instrument = collision.second {
            // One instrument wrote the key twice: two of the instruments it multiplexes both propagate it.
            if writers.count < 2 { writers.append(writers[0]) }
        } else {
            writers = [writers[0]] + Self.names(of: collision.second, instrument: instrument, serviceContext: serviceContext, key: key)
        }
        let fix: String
        switch (collision.first, collision.second) {
        case (.caller, .instrument):
            fix = "Remove '\(key)' from the call's metadata: \(writers[1]) writes it from ServiceContext.current."
        case (.caller, .propagatedKey(let type)):
            fix = "Set the value in ServiceContext under \(type.typeName) instead of in the call's metadata."
        case (.instrument, .propagatedKey(let type)):
            fix = "Give \(type.typeName) another wireName; '\(key)' belongs to the instrument."
        default:
            fix = "Configure only one instrument that propagates '\(key)'."
        }
        let cause = MetadataCollision(key: key, writers: Array(writers.prefix(2)))
        return RPCError(code: .invalidArgument, message: "\(cause) Nothing was sent. \(fix)", cause: cause)
    }

    /// How a writer is named in a message: for the instrument, the instruments that write `key` (several when a
    /// `MultiplexInstrument` combines them), else its type.
    private static func names(
        of writer: MetadataWriter,
        instrument: any Instrument,
        serviceContext: ServiceContext,
        key: String?
    ) -> [String] {
        switch writer {
        case .caller:
            return ["the call's metadata (CallOptions.metadata or a client interceptor)"]
        case .propagatedKey(let type):
            return ["propagated key \(type.typeName)"]
        case .instrument:
            guard let key else { return ["instrument \(readableTypeName(type(of: instrument)))"] }
            let writing = Self.components(of: instrument).filter { component in
                var probe = InjectionCarrier(callerMetadata: Metadata())
                component.inject(serviceContext, into: &probe, using: MetadataInjector())
                return probe.metadata.contains(key: key)
            }
            if writing.isEmpty { return ["instrument \(readableTypeName(type(of: instrument)))"] }
            return writing.map { "instrument \(readableTypeName(type(of: $0)))" }
        }
    }

    /// The instruments a `MultiplexInstrument` combines (recursively), else `instrument` itself. Read by
    /// reflection because swift-distributed-tracing keeps them private; used only to name writers in an error, so
    /// a future layout that hides them only makes the message name the multiplexer instead.
    private static func components(of instrument: any Instrument) -> [any Instrument] {
        guard let inner = Mirror(reflecting: instrument).descendant("instruments") as? [any Instrument] else {
            return [instrument]
        }
        return inner.flatMap { Self.components(of: $0) }
    }
}
