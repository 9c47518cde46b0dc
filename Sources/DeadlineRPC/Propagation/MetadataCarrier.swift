import Instrumentation
import Wire

/// Writes trace context (`traceparent`, `tracestate`, …) into request metadata for swift-distributed-tracing.
struct MetadataInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout InjectionCarrier) {
        // Never replace: a key someone else wrote (the caller, another instrument) is a collision the call reports.
        // A retry cannot trip on its own earlier value: every attempt starts again from the caller's metadata.
        carrier.write(.string(value), forKey: key)
    }
}

/// Reads trace context from request metadata for swift-distributed-tracing.
struct MetadataExtractor: Extractor {
    func extract(key: String, from carrier: Metadata) -> String? {
        carrier.first(forKey: key)
    }
}
