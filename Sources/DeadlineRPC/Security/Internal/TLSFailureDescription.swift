import NIOSSL
import Foundation

/// What the verification callback saw of a certificate it rejected: lets a handshake failure name the cause
/// (expired vs. unknown CA) where BoringSSL reports only `CERTIFICATE_VERIFY_FAILED`. Also collects the chain the
/// peer presented. Confined to the connection's event loop (the callback runs there).
final class TLSVerificationNotes {
    enum Rejection {
        case expired(notAfter: Int)
        case notYetValid(notBefore: Int)
        case untrusted
    }

    var rejection: Rejection?
    /// Certificates as the verifier visited them: from the top of the chain down to the leaf.
    var visited: [NIOSSLCertificate] = []

    /// The peer's chain, leaf first.
    var chainLeafFirst: [NIOSSLCertificate] {
        var chain: [NIOSSLCertificate] = []
        for certificate in self.visited.reversed() where !chain.contains(certificate) { chain.append(certificate) }
        return chain
    }

    /// The callback for swift-nio-ssl: records, never changes BoringSSL's verdict.
    func observe(_ result: NIOSSLVerificationResult, _ certificate: NIOSSLCertificate) -> NIOSSLVerificationResult {
        self.visited.append(certificate)
        if case .failed = result, self.rejection == nil {
            let now = Int(Date().timeIntervalSince1970)
            if Int(certificate.notValidAfter) < now {
                self.rejection = .expired(notAfter: Int(certificate.notValidAfter))
            } else if Int(certificate.notValidBefore) > now {
                self.rejection = .notYetValid(notBefore: Int(certificate.notValidBefore))
            } else {
                self.rejection = .untrusted
            }
        }
        return result
    }
}

/// Turns swift-nio-ssl's errors into sentences that name the cause (client: the `unavailable` message; server: the
/// log line and the counter's `cause`).
enum TLSFailureDescription {
    /// BoringSSL's reasons for bytes that are not TLS at all.
    private static let notTLS = ["WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "RECORD_TOO_LARGE", "ENCRYPTED_LENGTH_TOO_LONG"]

    /// The client's message (no final period: the connection's failure message wraps it, naming the endpoint).
    static func clientMessage(_ error: any Error, endpoint: String, serverName: String?, notes: TLSVerificationNotes) -> String {
        let prefix = "TLS handshake failed"
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "\(prefix): its certificate does not name \(serverName ?? endpoint) (hostname mismatch)"
        }
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            switch notes.rejection {
            case .expired(let notAfter):
                return "\(prefix): its certificate has expired (not valid after \(Self.date(notAfter)))"
            case .notYetValid(let notBefore):
                return "\(prefix): its certificate is not valid yet (not valid before \(Self.date(notBefore)))"
            case .untrusted, nil:
                return "\(prefix): its certificate is not signed by a CA this client trusts (wrong CA or trust roots)"
            }
        }
        if text.contains("CERTIFICATE_REQUIRED") {
            return "\(prefix): the server requires a client certificate (mutual TLS) and this client presented none"
        }
        if let alert = Self.alert(in: text) {
            return "\(prefix): the server refused this client's TLS (alert \(alert))"
        }
        if Self.notTLS.contains(where: { text.contains($0) }) {
            return "\(prefix): the server did not answer with TLS (is it a plaintext port?)"
        }
        if let error = error as? NIOSSLError, case .uncleanShutdown = error {
            return "\(prefix): the server closed the connection during the handshake"
        }
        return "\(prefix): \(error)"
    }

    /// The cause of a failed server-side handshake: a sentence and a short label for the counter.
    static func serverCause(_ error: any Error, notes: TLSVerificationNotes) -> (message: String, label: String) {
        let text = "\(error)"
        if text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") || text.contains("CERTIFICATE_REQUIRED") {
            return ("the client presented no certificate and mutual TLS requires one", "no_client_certificate")
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            switch notes.rejection {
            case .expired: return ("the client's certificate has expired", "client_certificate_expired")
            case .notYetValid: return ("the client's certificate is not valid yet", "client_certificate_not_yet_valid")
            case .untrusted, nil: return ("the client's certificate is not signed by a trusted CA", "client_certificate_untrusted")
            }
        }
        if let alert = Self.alert(in: text) {
            return ("the client refused the server's certificate (alert \(alert))", "refused_by_client")
        }
        if Self.notTLS.contains(where: { text.contains($0) }) {
            return ("the client did not speak TLS (a plaintext client on a TLS port)", "not_tls")
        }
        return ("\(error)", "other")
    }

    /// The alert name in BoringSSL's error text (`SSLV3_ALERT_CERTIFICATE_EXPIRED`, `TLSV1_ALERT_UNKNOWN_CA`, …).
    private static func alert(in text: String) -> String? {
        for marker in ["TLSV1_ALERT_", "SSLV3_ALERT_"] {
            guard let range = text.range(of: marker) else { continue }
            let name = text[range.upperBound...].prefix { $0.isUppercase || $0 == "_" || $0.isNumber }
            return name.lowercased()
        }
        return nil
    }

    private static func date(_ seconds: Int) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).ISO8601Format()
    }
}
