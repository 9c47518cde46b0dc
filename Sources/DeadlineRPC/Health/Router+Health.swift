import NIOCore

extension Router {
    /// Registers `health`'s `Check` and `Watch` (``HealthService/checkMethodName``, ``HealthService/watchMethodName``).
    /// A server built from this router turns every status `NOT_SERVING` when its graceful shutdown begins and sends
    /// that to the watchers before its GOAWAY.
    public mutating func addHealthService(_ health: HealthService) {
        // Requests are decoded here rather than by the method's codec: the runtime reports a codec's failure as
        // `internal`, and a malformed request is the caller's fault (`invalidArgument`).
        let check = Method<ByteBuffer, ServingStatus>(
            HealthService.checkMethodName,
            kind: .unary,
            requestCodec: ProtobufBytesCodec(),
            responseCodec: HealthCheckResponseCodec(),
            isIdempotent: true
        )
        let watch = Method<ByteBuffer, ServingStatus>(
            HealthService.watchMethodName,
            kind: .serverStreaming,
            requestCodec: ProtobufBytesCodec(),
            responseCodec: HealthCheckResponseCodec()
        )
        self.unary(check) { request, _ in
            try health.check(try Self.healthServiceName(request))
        }
        self.serverStreaming(watch) { request, writer, _ in
            let service = try Self.healthServiceName(request)
            // A write returns only once the status has left the stream's queue: a client that does not read holds
            // one status here, not 64 KiB of stale ones, and a shutdown's NOT_SERVING is written before the GOAWAY.
            let writer = writer.waitingUntilWritten()
            try await health.watch(service) { try await writer.write($0) }
        }
        if !self.healthServices.contains(where: { $0 === health }) { self.healthServices.append(health) }
    }

    private static func healthServiceName(_ request: ByteBuffer) throws -> String {
        do {
            return try HealthCheckRequestCodec().decode(request)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The health check request is not a valid HealthCheckRequest: \(error).")
        }
    }
}
