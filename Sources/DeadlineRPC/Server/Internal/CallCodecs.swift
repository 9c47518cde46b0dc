import Wire

/// A method's codecs as the server holds them: its own, and their JSON forms when both of its codecs have one
/// (``JSONTranscodingCodec``). Each call picks by its request metadata (``JSONTranscoding``).
///
/// A class: a handler closure capturing a generic struct looks up its type metadata on every call to reach it.
final class CallCodecs<Request: Sendable, Response: Sendable>: Sendable {
    let request: any MessageCodec<Request>
    let response: any MessageCodec<Response>
    /// Nil when the method has no JSON form (a call asking for one is refused).
    let json: (request: any MessageCodec<Request>, response: any MessageCodec<Response>)?

    init(_ method: Method<Request, Response>) {
        self.request = method.requestCodec
        self.response = method.responseCodec
        if let request = method.requestCodec as? any JSONTranscodingCodec<Request>,
            let response = method.responseCodec as? any JSONTranscodingCodec<Response>
        {
            self.json = (JSONFormCodec(base: request), JSONFormCodec(base: response))
        } else {
            self.json = nil
        }
    }

    /// Whether a call of this method may ask for JSON.
    var acceptsJSON: Bool { self.json != nil }

    /// The codecs for a call with `metadata`, and the refusal to throw in its handler's place when it asked for a
    /// JSON form the method does not have (the codecs are then the method's own, for the refusal's bookkeeping).
    /// A call that does not ask costs one scan of its (usually empty) metadata.
    func select(
        _ metadata: Metadata,
        method: String
    ) -> (request: any MessageCodec<Request>, response: any MessageCodec<Response>, refusal: RPCError?) {
        guard !metadata.isEmpty, let value = metadata.first(forKey: JSONTranscoding.metadataKey) else {
            return (self.request, self.response, nil)
        }
        guard value == JSONTranscoding.value else {
            let refusal = RPCError(
                code: .invalidArgument,
                message: "Unsupported \(JSONTranscoding.metadataKey) '\(value)': only '\(JSONTranscoding.value)' is understood (or send none for the method's own encoding, \(self.request.encodingName))."
            )
            return (self.request, self.response, refusal)
        }
        guard let json = self.json else {
            let refusal = RPCError(
                code: .invalidArgument,
                message: "\(method) has no JSON form (its encodings are \(self.request.encodingName) and \(self.response.encodingName)); send its own encoding without '\(JSONTranscoding.metadataKey): \(JSONTranscoding.value)'."
            )
            return (self.request, self.response, refusal)
        }
        return (json.request, json.response, nil)
    }
}
