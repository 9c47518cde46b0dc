import ArgumentParser
import DeadlineRPC
import Foundation
import NIOCore
import Synchronization

/// `drpc call HOST:PORT METHOD '{json}'`: calls a method with JSON, printing each response as one line of JSON.
/// Reflection tells it the method's kind and whether to ask for the JSON form (``JSONTranscoding``); the messages
/// travel as raw bytes (`Method.raw`), so drpc needs none of the service's types.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a method with JSON.",
        discussion: """
            Unary and server-streaming methods take the request as the JSON argument (default {}); server-streaming \
            prints one JSON response per line. Client-streaming and bidirectional methods read one JSON request per \
            line from standard input until end of file.
            """
    )

    @OptionGroup var options: ConnectionOptions

    @Argument(help: "The full method name, e.g. greeter.Greeter/Greet.")
    var method: String

    @Argument(help: "The request as JSON (unary and server-streaming methods).")
    var request: String?

    func validate() throws {
        if let request = self.request {
            do {
                _ = try Self.checkJSON(request, what: "the request argument")
            } catch let error as DRPCUsageError {
                throw ValidationError(error.reason)
            }
        }
    }

    func run() async throws {
        var start = ContinuousClock.now
        var budget: Duration? = self.options.timeout?.duration
        var responses: [Any] = []
        do {
            let report = try await self.options.withClient { client in
                // The lookup is a call of its own, not part of the method call's budget: a 100 ms --timeout is for
                // the method, and a loaded server's lookup must not eat it (at least 10 s, or --timeout if longer).
                var lookup = try self.options.callOptions()
                lookup.timeout = max(lookup.timeout ?? .zero, .seconds(10))
                let descriptor = try await ReflectionClient(client).describeMethod(self.method, options: lookup)
                let extra = try Self.transcodingMetadata(descriptor)
                if let request = self.request, !descriptor.kind.singleRequest {
                    throw DRPCUsageError(reason: "\(descriptor.name) is \(descriptor.kind): it reads its requests as JSON lines from standard input, not from the argument '\(request)'.")
                }
                let raw = Method<ByteBuffer, ByteBuffer>.raw(descriptor.name, kind: descriptor.kind, defaultTimeout: descriptor.defaultTimeout)
                let callOptions = try self.options.callOptions(adding: extra)
                budget = [budget, descriptor.defaultTimeout].compactMap { $0 }.min()
                start = ContinuousClock.now
                let trailers = try await self.call(raw, on: client, options: callOptions) { response in
                    let text = String(buffer: response)
                    if self.options.json {
                        responses.append(Output.jsonValue(ofResponse: text))
                    } else {
                        Output.line(text)
                    }
                }
                return CallReport.ok(trailers: trailers, budget: CallReport.attribution(budget: budget, start: start))
            }
            try Output.finish(report, self.options, payload: ["responses": responses])
        } catch {
            try Output.fail(error, self.options, payload: ["responses": responses], budget: CallReport.attribution(budget: budget, start: start))
        }
    }

    /// Runs the call by its kind, handing each response to `print`; returns the trailers (empty for
    /// client-streaming calls, whose API returns only the response).
    private func call(
        _ method: Method<ByteBuffer, ByteBuffer>,
        on client: RPCClient,
        options: CallOptions,
        print: (ByteBuffer) -> Void
    ) async throws -> Metadata {
        let request = ByteBuffer(string: self.request ?? "{}")
        switch method.kind {
        case .unary:
            let reply = try await client.unaryResponse(method, request, options: options)
            print(reply.message)
            return reply.trailers
        case .serverStreaming:
            return try await client.serverStreaming(method, request, options: options) { responses in
                for try await response in responses { print(response) }
                return responses.trailers
            }
        case .clientStreaming:
            let response = try await client.clientStreaming(method, options: options) { writer in
                for await line in StandardInputLines.lines() {
                    try await writer.write(ByteBuffer(string: try Self.checkJSON(line, what: "a request line")))
                }
            }
            print(response)
            return Metadata()
        case .bidirectional:
            // A request writer that throws would leave the call open (only its return half-closes it), so a line
            // that is not JSON ends the requests here and is reported once the call is over.
            let badLine = Mutex<DRPCUsageError?>(nil)
            let trailers = try await client.bidirectional(
                method,
                options: options,
                requests: { writer in
                    for await line in StandardInputLines.lines() {
                        do {
                            try await writer.write(ByteBuffer(string: try Self.checkJSON(line, what: "a request line")))
                        } catch let error as DRPCUsageError {
                            badLine.withLock { $0 = error }
                            return
                        }
                    }
                },
                responses: { responses in
                    for try await response in responses { print(response) }
                    return responses.trailers
                }
            )
            if let error = badLine.withLock({ $0 }) { throw error }
            return trailers
        }
    }

    /// The metadata that asks for the JSON form: `content-type: application/json` whenever the method accepts it
    /// (for a `json` method it changes nothing but makes a request that does not decode `INVALID_ARGUMENT`, the
    /// caller's fault, rather than the codec's `INTERNAL`); none for a `json` method whose codec offers no JSON form;
    /// any other method cannot be called with JSON.
    static func transcodingMetadata(_ descriptor: MethodDescriptor) throws -> Metadata {
        var metadata = Metadata()
        if descriptor.acceptsJSON {
            metadata.add(JSONTranscoding.value, forKey: JSONTranscoding.metadataKey)
        } else if descriptor.requestEncoding != "json" || descriptor.responseEncoding != "json" {
            throw DRPCUsageError(reason: "\(descriptor.name) encodes its messages as \(descriptor.requestEncoding) -> \(descriptor.responseEncoding) and has no JSON form; drpc call sends only JSON.")
        }
        return metadata
    }

    /// `text` if it is one JSON value; a usage error naming `what` otherwise.
    static func checkJSON(_ text: String, what: String) throws -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return text
        } catch {
            throw DRPCUsageError(reason: "\(what) is not JSON: \(text)")
        }
    }
}
