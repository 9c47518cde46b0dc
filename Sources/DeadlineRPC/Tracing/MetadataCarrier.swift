import Instrumentation
import Wire

/// Writes trace context (`traceparent`, `tracestate`, …) into request metadata for swift-distributed-tracing.
struct MetadataInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout Metadata) {
        // Replace, not add: a retry or an interceptor re-injecting must not send two trace parents.
        carrier.replace(.string(value), forKey: key)
    }
}

/// Reads trace context from request metadata for swift-distributed-tracing.
struct MetadataExtractor: Extractor {
    func extract(key: String, from carrier: Metadata) -> String? {
        carrier.first(forKey: key)
    }
}
