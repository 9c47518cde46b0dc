import Instrumentation
import Synchronization
import Wire

/// Reads trace context for the server's instrument like ``MetadataExtractor``, and notes the first key it reads that
/// a registered ``PropagatedKey`` also reads: left alone, both typed keys would silently hold the one value.
///
/// Used only when keys are registered, so a server without them pays nothing for the check (the log is one
/// allocation per call).
struct OverlapCheckingExtractor: Extractor {
    /// What the instrument asked for that a propagated key owns; written during the synchronous `extract` call.
    final class Log: Sendable {
        let overlap = Mutex<(any PropagatedKey.Type)?>(nil)
    }

    let keys: PropagatedKeys
    let log = Log()

    func extract(key: String, from carrier: Metadata) -> String? {
        if let owner = self.keys.key(forWireName: key) {
            self.log.overlap.withLock { if $0 == nil { $0 = owner } }
        }
        return carrier.first(forKey: key)
    }
}
