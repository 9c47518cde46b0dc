import NIOHTTP1

/// A complete HTTP request as the demo's small HTTP servers see it: the head and the path split from the query.
package struct HTTPRequest: Sendable {
    /// Method, URI, headers.
    package var head: HTTPRequestHead
    /// The URI's path (`/checkout`).
    package var path: String
    /// The URI's query parameters (`item=book&qty=2` → `["item": "book", "qty": "2"]`; no percent-decoding).
    package var query: [String: String]

    /// Splits `head.uri` into path and query.
    package init(head: HTTPRequestHead) {
        self.head = head
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = parts.first.map(String.init) ?? "/"
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(keyValue[0])] = keyValue.count == 2 ? String(keyValue[1]) : ""
            }
        }
        self.query = query
    }

    /// The first value of a header (case-insensitive), if present.
    package func header(_ name: String) -> String? { self.head.headers.first(name: name) }
}
