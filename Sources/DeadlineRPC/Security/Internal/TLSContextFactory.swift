import NIOSSL

/// Builds swift-nio-ssl contexts from the runtime's settings: TLS 1.2 minimum (swift-nio-ssl's own default is 1.0),
/// 1.3 preferred (negotiated whenever both sides have it), ALPN `drpc/1`.
enum TLSContextFactory {
    /// The ALPN identifier of the DeadlineRPC protocol (PROTOCOL.md).
    static let alpnIdentifier = "drpc/1"

    static func serverContext(_ security: ServerTransportSecurity) throws -> NIOSSLContext? {
        guard case .tls(let chain, let key, let clientRoots) = security.mode else { return nil }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try self.certificates(chain).map { .certificate($0) },
            privateKey: .privateKey(try self.privateKey(key))
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = [Self.alpnIdentifier]
        if let clientRoots {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = try self.trustRoots(clientRoots)
        } else {
            configuration.certificateVerification = .none
        }
        return try self.context(configuration, role: "server")
    }

    static func clientContext(_ security: ClientTransportSecurity) throws -> NIOSSLContext? {
        guard case .tls(let roots, let chain, let key) = security.mode else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = [Self.alpnIdentifier]
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = try self.trustRoots(roots)
        if let key {
            configuration.certificateChain = try self.certificates(chain).map { .certificate($0) }
            configuration.privateKey = .privateKey(try self.privateKey(key))
        }
        return try self.context(configuration, role: "client")
    }

    private static func context(_ configuration: TLSConfiguration, role: String) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RPCError(code: .invalidArgument, message: "The \(role)'s TLS settings are unusable (\(error)); check that the key matches the certificate.", cause: error)
        }
    }

    static func certificates(_ sources: [TLSCertificateSource]) throws -> [NIOSSLCertificate] {
        var result: [NIOSSLCertificate] = []
        for source in sources {
            do {
                switch source {
                case .pem(let text): result += try NIOSSLCertificate.fromPEMBytes(Array(text.utf8))
                case .pemFile(let path): result += try NIOSSLCertificate.fromPEMFile(path)
                case .der(let bytes): result.append(try NIOSSLCertificate(bytes: bytes, format: .der))
                }
            } catch {
                throw RPCError(code: .invalidArgument, message: "Cannot read a certificate from \(self.describe(source)): \(error).", cause: error)
            }
        }
        return result
    }

    private static func privateKey(_ source: TLSPrivateKeySource) throws -> NIOSSLPrivateKey {
        do {
            switch source {
            case .pem(let text): return try NIOSSLPrivateKey(bytes: Array(text.utf8), format: .pem)
            case .pemFile(let path): return try NIOSSLPrivateKey(file: path, format: .pem)
            }
        } catch {
            let place: String
            switch source {
            case .pem: place = "PEM text"
            case .pemFile(let path): place = "the file \(path)"
            }
            throw RPCError(code: .invalidArgument, message: "Cannot read the private key from \(place): \(error).", cause: error)
        }
    }

    private static func trustRoots(_ roots: TLSTrustRoots) throws -> NIOSSLTrustRoots {
        switch roots {
        case .system: return .default
        case .certificates(let sources): return .certificates(try self.certificates(sources))
        }
    }

    private static func describe(_ source: TLSCertificateSource) -> String {
        switch source {
        case .pem: return "PEM text"
        case .pemFile(let path): return "the file \(path)"
        case .der: return "DER bytes"
        }
    }
}
