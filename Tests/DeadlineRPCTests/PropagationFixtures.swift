import DeadlineRPC
import Instrumentation
import Synchronization

// Keys, instruments and a recording server shared by the metadata-collision and propagated-key tests. The types are
// internal, not private, so their names in error messages read as users would see them (`Accounts.UserID`).

/// A trace id carried in `ServiceContext`.
enum TraceID: ServiceContextKey {
    typealias Value = String
}

/// Writes the trace id as `traceparent`, like a W3C tracer.
struct TraceParentWriter: Instrument {
    func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract: Extractor, Extract.Carrier == Carrier {
        if let value = extractor.extract(key: "traceparent", from: carrier) { context[TraceID.self] = value }
    }

    func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Inject.Carrier == Carrier {
        if let value = context[TraceID.self] { injector.inject(value, forKey: "traceparent", into: &carrier) }
    }
}

/// Two hand-written propagators from two modules that both chose the wire key `user_id`: the Go article's collision.
enum Sessions {
    enum UserID: ServiceContextKey { typealias Value = String }

    struct Propagator: Instrument {
        func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
        where Extract: Extractor, Extract.Carrier == Carrier {
            if let value = extractor.extract(key: "user_id", from: carrier) { context[UserID.self] = value }
        }

        func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
        where Inject: Injector, Inject.Carrier == Carrier {
            if let value = context[UserID.self] { injector.inject(value, forKey: "user_id", into: &carrier) }
        }
    }
}

enum Ledger {
    enum UserID: ServiceContextKey { typealias Value = String }

    struct Propagator: Instrument {
        func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
        where Extract: Extractor, Extract.Carrier == Carrier {
            if let value = extractor.extract(key: "user_id", from: carrier) { context[UserID.self] = value }
        }

        func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
        where Inject: Injector, Inject.Carrier == Carrier {
            if let value = context[UserID.self] { injector.inject(value, forKey: "user_id", into: &carrier) }
        }
    }
}

/// The same two modules, declaring their user ids as propagated keys.
// guide:begin propagated-key-declaration
enum Accounts {
    enum UserID: PropagatedKey {
        typealias Value = String
        static let wireName = "accounts.user_id"
    }
}

enum Billing {
    enum UserID: PropagatedKey {
        typealias Value = Int
        static let wireName = "billing.user_id"
    }
}
// guide:end propagated-key-declaration

extension Billing {
    /// A careless declaration that takes the accounts module's wire name.
    enum AccountHolder: PropagatedKey {
        typealias Value = String
        static let wireName = "accounts.user_id"
    }

    /// A key that wants the tracer's wire name.
    enum Trace: PropagatedKey {
        typealias Value = String
        static let wireName = "traceparent"
    }
}

/// What the server saw of each call: its request metadata, in arrival order.
final class MetadataLog: Sendable {
    private let entries = Mutex<[Metadata]>([])

    func record(_ metadata: Metadata) { self.entries.withLock { $0.append(metadata) } }

    var all: [Metadata] { self.entries.withLock { $0 } }
}
