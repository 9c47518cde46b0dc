import Foundation
import NIOSSL
import X509

/// Reads the certificate chain, private key and trust roots named by the settings, checks them, and builds a
/// swift-nio-ssl context. Blocking (it reads files): called only on a thread-pool thread, never on an event loop.
///
/// swift-nio-ssl parses (it is what will use the material); swift-certificates inspects: validity dates and whether
/// the key belongs to the leaf, which BoringSSL would otherwise report only as an opaque error.
enum TLSMaterialLoader {
    /// A larger file is refused unread: a certificate bundle is kilobytes, a system bundle a few hundred.
    static let maximumFileSize = 4 << 20

    /// What a load produced: the context, and the leaf certificate (for the log line).
    struct Loaded: Sendable {
        let context: NIOSSLContext
        let leaf: Certificate?
    }

    /// Whether dates are enforced: a reload refuses a chain outside its validity (the old one stays); the first load
    /// only warns, since a server whose only certificate has expired must still start and say so to its clients.
    enum Validity {
        case enforce(now: Date)
        case warn(now: Date, (TLSReloadError) -> Void)
    }

    static func server(_ security: ServerTransportSecurity, validity: Validity) throws(TLSReloadError) -> Loaded {
        guard case .tls(let chainSources, let keySource, let clientRoots) = security.mode else {
            throw TLSReloadError(cause: .unusable, file: nil, message: "The server has no TLS settings to load.")
        }
        let (chain, key, leaf) = try self.identity(chainSources, keySource, validity: validity)
        let roots = try clientRoots.map { root throws(TLSReloadError) in try self.trustRoots(root) }
        let context = try self.build(keySource: keySource, role: "server") {
            try TLSContextFactory.serverContext(certificateChain: chain, privateKey: key, clientTrustRoots: roots)
        }
        return Loaded(context: context, leaf: leaf)
    }

    static func client(_ security: ClientTransportSecurity, validity: Validity) throws(TLSReloadError) -> Loaded {
        guard case .tls(let rootSource, let chainSources, let keySource) = security.mode else {
            throw TLSReloadError(cause: .unusable, file: nil, message: "The client has no TLS settings to load.")
        }
        let roots = try self.trustRoots(rootSource)
        guard let keySource else {
            let context = try self.build(keySource: nil, role: "client") {
                try TLSContextFactory.clientContext(trustRoots: roots, certificateChain: [], privateKey: nil)
            }
            return Loaded(context: context, leaf: nil)
        }
        let (chain, key, leaf) = try self.identity(chainSources, keySource, validity: validity)
        let context = try self.build(keySource: keySource, role: "client") {
            try TLSContextFactory.clientContext(trustRoots: roots, certificateChain: chain, privateKey: key)
        }
        return Loaded(context: context, leaf: leaf)
    }

    // MARK: Parts

    /// The chain (leaf first) and the key, checked against each other and, per `validity`, against the clock.
    private static func identity(
        _ chainSources: [TLSCertificateSource],
        _ keySource: TLSPrivateKeySource,
        validity: Validity
    ) throws(TLSReloadError) -> ([NIOSSLCertificate], NIOSSLPrivateKey, Certificate?) {
        var chain: [(NIOSSLCertificate, String?)] = []
        for source in chainSources {
            chain += try self.certificates(source).map { ($0, self.file(of: source)) }
        }
        guard let (leafNIO, leafFile) = chain.first else {
            throw TLSReloadError(cause: .invalidPEM, file: nil, message: "The certificate chain is empty: no certificate to present.")
        }
        let (key, keyPEM) = try self.privateKey(keySource)
        let leaf = try? Certificate(derEncoded: leafNIO.toDERBytes())
        // swift-certificates reads PKCS#8, SEC1 and PKCS#1 keys of the usual algorithms; for any other, BoringSSL's
        // own check when the context is built still catches a mismatch (``build``).
        if let leaf, let inspected = try? Certificate.PrivateKey(pemEncoded: keyPEM), inspected.publicKey != leaf.publicKey {
            throw TLSReloadError(
                cause: .keyMismatch,
                file: self.file(of: keySource),
                message: "The private key in \(self.describe(keySource)) does not belong to the certificate in \(self.describe(leafFile)) (\(leaf.subject), serial \(leaf.serialNumber)); was one file replaced without the other?"
            )
        }
        for (certificate, file) in chain {
            guard let parsed = try? Certificate(derEncoded: certificate.toDERBytes()) else { continue }
            if let problem = self.validityProblem(parsed, file: file, validity: validity) {
                switch validity {
                case .enforce: throw problem
                case .warn(_, let warn): warn(problem)
                }
            }
        }
        return (chain.map(\.0), key, leaf)
    }

    private static func validityProblem(_ certificate: Certificate, file: String?, validity: Validity) -> TLSReloadError? {
        let now: Date
        switch validity {
        case .enforce(let date), .warn(let date, _): now = date
        }
        let name = "the certificate \(certificate.subject) (serial \(certificate.serialNumber)) in \(self.describe(file))"
        if certificate.notValidAfter < now {
            return TLSReloadError(cause: .certificateExpired, file: file, message: "\(name) has expired (not valid after \(certificate.notValidAfter.ISO8601Format())).")
        }
        if certificate.notValidBefore > now {
            return TLSReloadError(cause: .certificateNotYetValid, file: file, message: "\(name) is not valid yet (not valid before \(certificate.notValidBefore.ISO8601Format())).")
        }
        return nil
    }

    private static func trustRoots(_ roots: TLSTrustRoots) throws(TLSReloadError) -> NIOSSLTrustRoots {
        switch roots {
        case .system:
            return .default
        case .certificates(let sources):
            var certificates: [NIOSSLCertificate] = []
            for source in sources { certificates += try self.certificates(source) }
            guard !certificates.isEmpty else {
                throw TLSReloadError(cause: .invalidPEM, file: nil, message: "The trust roots hold no certificate: no peer could be verified.")
            }
            return .certificates(certificates)
        }
    }

    private static func certificates(_ source: TLSCertificateSource) throws(TLSReloadError) -> [NIOSSLCertificate] {
        let parsed: [NIOSSLCertificate]
        switch source {
        case .pem(let text):
            parsed = (try? NIOSSLCertificate.fromPEMBytes(Array(text.utf8))) ?? []
        case .pemFile(let path):
            let bytes = try self.read(path)
            parsed = (try? NIOSSLCertificate.fromPEMBytes(bytes)) ?? []
        case .der(let bytes):
            parsed = (try? NIOSSLCertificate(bytes: bytes, format: .der)).map { [$0] } ?? []
        }
        guard !parsed.isEmpty else {
            throw TLSReloadError(cause: .invalidPEM, file: self.file(of: source), message: "\(self.describe(source).capitalizedFirst) holds no certificate that parses.")
        }
        return parsed
    }

    /// The key, and its PEM text for swift-certificates' inspection.
    private static func privateKey(_ source: TLSPrivateKeySource) throws(TLSReloadError) -> (NIOSSLPrivateKey, String) {
        let bytes: [UInt8]
        switch source {
        case .pem(let text): bytes = Array(text.utf8)
        case .pemFile(let path): bytes = try self.read(path)
        }
        guard let key = try? NIOSSLPrivateKey(bytes: bytes, format: .pem) else {
            throw TLSReloadError(cause: .invalidPEM, file: self.file(of: source), message: "\(self.describe(source).capitalizedFirst) holds no private key that parses.")
        }
        return (key, String(decoding: bytes, as: UTF8.self))
    }

    /// A file's bytes, at most ``maximumFileSize``.
    static func read(_ path: String) throws(TLSReloadError) -> [UInt8] {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        } catch {
            if !FileManager.default.fileExists(atPath: path) {
                throw TLSReloadError(cause: .missingFile, file: path, message: "The file \(path) does not exist.")
            }
            throw TLSReloadError(cause: .unreadableFile, file: path, message: "The file \(path) cannot be read (\(Self.reason(error))).")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: self.maximumFileSize + 1) ?? Data()
        } catch {
            throw TLSReloadError(cause: .unreadableFile, file: path, message: "The file \(path) cannot be read (\(Self.reason(error))).")
        }
        guard data.count <= self.maximumFileSize else {
            throw TLSReloadError(cause: .unreadableFile, file: path, message: "The file \(path) is larger than \(self.maximumFileSize) bytes; it is not a certificate or key file.")
        }
        return Array(data)
    }

    /// Builds the context; BoringSSL refuses a key that does not match the leaf (when swift-certificates could not
    /// read the key to check it first).
    private static func build(
        keySource: TLSPrivateKeySource?,
        role: String,
        _ body: () throws -> NIOSSLContext
    ) throws(TLSReloadError) -> NIOSSLContext {
        do {
            return try body()
        } catch NIOSSLError.failedToLoadPrivateKey where keySource != nil {
            throw TLSReloadError(
                cause: .keyMismatch,
                file: keySource.flatMap(self.file(of:)),
                message: "The private key in \(self.describe(keySource!)) does not belong to the leaf certificate (swift-nio-ssl refused the pair)."
            )
        } catch {
            throw TLSReloadError(cause: .unusable, file: nil, message: "The \(role)'s TLS settings are unusable (\(error)).")
        }
    }

    // MARK: Naming

    private static func file(of source: TLSCertificateSource) -> String? {
        if case .pemFile(let path) = source { return path }
        return nil
    }

    private static func file(of source: TLSPrivateKeySource) -> String? {
        if case .pemFile(let path) = source { return path }
        return nil
    }

    private static func describe(_ source: TLSCertificateSource) -> String {
        switch source {
        case .pem: return "the PEM text"
        case .pemFile(let path): return "the file \(path)"
        case .der: return "the DER bytes"
        }
    }

    private static func describe(_ source: TLSPrivateKeySource) -> String {
        switch source {
        case .pem: return "the PEM text"
        case .pemFile(let path): return "the file \(path)"
        }
    }

    private static func describe(_ file: String?) -> String {
        file.map { "the file \($0)" } ?? "the certificate given in memory"
    }

    private static func reason(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError, let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return (error as NSError).localizedDescription
    }
}

extension String {
    /// The string with its first letter upper-cased ("the file …" starting a sentence).
    fileprivate var capitalizedFirst: String { self.prefix(1).uppercased() + self.dropFirst() }
}
